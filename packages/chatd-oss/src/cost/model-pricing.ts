// Prices of a model configuration and the cost of one model call (contract.md#cost). Prices are integers in
// micro-units (millionths of the currency unit) per million tokens; a call's cost is computed exactly (BigInt) and
// rounded up to a whole micro-unit, so many small calls never cost nothing by rounding.
import type { ChatMessageUsage } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';

/** Largest price per million tokens accepted (1e12 micro-units: a million currency units). @default 1e12 */
export const MAX_PRICE_MICROS_PER_MILLION = 1_000_000_000_000;

/**
 * Prices per million tokens, in micro-units. `cached_input` defaults to `input` and `reasoning` to `output` when
 * absent (a provider that bills them alike).
 */
export type ModelPricing = { input: number; output: number; cached_input?: number; reasoning?: number };

const FIELDS = ['input', 'output', 'cached_input', 'reasoning'] as const;

/** Validates a wire `pricing` value (null clears it); INVALID_INPUT with a validation per bad field. */
export function parseModelPricing(value: unknown): ModelPricing | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ChatdError('INVALID_INPUT', 'Invalid pricing.', { validations: [{ field: 'pricing', detail: 'must be an object or null' }] });
  }
  const v = value as Record<string, unknown>;
  const validations: { field: string; detail: string }[] = [];
  for (const key of Object.keys(v)) {
    if (!(FIELDS as readonly string[]).includes(key)) validations.push({ field: `pricing.${key}`, detail: 'unknown field' });
  }
  const out: Record<string, number> = {};
  for (const key of FIELDS) {
    const n = v[key];
    if (n === undefined && (key === 'cached_input' || key === 'reasoning')) continue;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_PRICE_MICROS_PER_MILLION) {
      validations.push({ field: `pricing.${key}`, detail: `must be an integer 0-${MAX_PRICE_MICROS_PER_MILLION} (micro-units per million tokens)` });
      continue;
    }
    out[key] = n;
  }
  if (validations.length > 0) throw new ChatdError('INVALID_INPUT', 'Invalid pricing.', { validations });
  return out as ModelPricing;
}

/** Tokens of one call as the ledger keeps them: input split into uncached and cached, output into text and reasoning. */
export type CallTokens = { input: number; output: number; cachedInput: number; reasoning: number };

/** The ledger's token counts of a reported usage (counts a provider left out are 0). */
export function callTokens(usage: ChatMessageUsage): CallTokens {
  return {
    input: usage.input_tokens ?? 0,
    output: usage.output_tokens ?? 0,
    cachedInput: usage.cache_read_tokens ?? 0,
    reasoning: usage.reasoning_tokens ?? 0,
  };
}

/**
 * The cost of one call in micro-units, rounded up: uncached input (input - cached) x input price, cached input x
 * cached price, text output (output - reasoning) x output price, reasoning x reasoning price, over a million.
 */
export function callCostMicros(pricing: ModelPricing, tokens: CallTokens): number {
  const big = (n: number) => BigInt(Math.max(0, Math.trunc(n)));
  const cached = Math.min(tokens.cachedInput, tokens.input);
  const reasoning = Math.min(tokens.reasoning, tokens.output);
  const sum =
    big(tokens.input - cached) * big(pricing.input) +
    big(cached) * big(pricing.cached_input ?? pricing.input) +
    big(tokens.output - reasoning) * big(pricing.output) +
    big(reasoning) * big(pricing.reasoning ?? pricing.output);
  const million = 1_000_000n;
  return Number((sum + million - 1n) / million);
}
