// Validation of the model fields of issue 25 (contract.md#provider-admin): provider kinds (with the
// original's `openai-compat` alias), key variable names, call options, provider options and reasoning
// efforts. Pure functions: every refusal is an INVALID_INPUT with a `validations` entry naming the wire
// field; nothing here touches the database or reads the environment.
import { ChatdError } from '../chatd-error.js';
import {
  PROVIDER_KINDS,
  REASONING_EFFORTS,
  type ModelCallOptions,
  type ProviderKind,
  type ProviderOptions,
  type ReasoningEffort,
} from '../model/model-settings.js';

/** The original's spelling of `openai-compatible`, accepted on input and stored as `openai-compatible`. */
export const OPENAI_COMPAT_ALIAS = 'openai-compat';
/** Largest `max_output_tokens`. @default 1000000 */
export const MAX_OUTPUT_TOKENS_LIMIT = 1_000_000;
/** Largest `temperature`. @default 2 */
export const MAX_TEMPERATURE = 2;
/** Largest `provider_options`, as UTF-8 JSON. @default 16384 (16 KiB) */
export const MAX_PROVIDER_OPTIONS_BYTES = 16 * 1024;
/** What an `api_key_env` must look like: an environment variable name, upper case. */
export const API_KEY_ENV_RE = /^[A-Z_][A-Z0-9_]{0,127}$/;

function invalid(field: string, detail: string): ChatdError {
  return new ChatdError('INVALID_INPUT', `Invalid ${field}.`, { detail: `${field} ${detail}.`, validations: [{ field, detail }] });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The kind a provider name implies (as the migration backfills it): demo, anthropic, else openai-compatible. */
export function providerKindOfName(name: string): ProviderKind {
  if (name === 'demo') return 'demo';
  if (name === 'anthropic') return 'anthropic';
  return 'openai-compatible';
}

/** Validates a provider kind (`openai-compat` becomes `openai-compatible`). */
export function parseProviderKind(value: unknown, field = 'kind'): ProviderKind {
  if (value === OPENAI_COMPAT_ALIAS) return 'openai-compatible';
  if (typeof value !== 'string' || !(PROVIDER_KINDS as readonly string[]).includes(value)) {
    throw invalid(field, `must be one of ${PROVIDER_KINDS.join(', ')} (or ${OPENAI_COMPAT_ALIAS})`);
  }
  return value as ProviderKind;
}

/** Validates `api_key_env`: null clears it, else an environment variable name. */
export function parseApiKeyEnv(value: unknown, field = 'api_key_env'): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || !API_KEY_ENV_RE.test(value)) throw invalid(field, 'must be an environment variable name (A-Z, 0-9 and _, at most 128, not starting with a digit)');
  return value;
}

/** Validates a reasoning effort (`none|minimal|low|medium|high|max`). */
export function parseReasoningEffort(value: unknown, field = 'reasoning_effort'): ReasoningEffort {
  if (typeof value !== 'string' || !(REASONING_EFFORTS as readonly string[]).includes(value)) {
    throw invalid(field, `must be one of ${REASONING_EFFORTS.join(', ')}`);
  }
  return value as ReasoningEffort;
}

/**
 * Validates call options in their wire form (`{max_output_tokens?, temperature?, top_p?, reasoning_effort?}`;
 * a null field is the same as an absent one). Unknown fields are refused, so a typo is not silently dropped.
 */
export function parseCallOptions(value: unknown, field = 'call_options'): ModelCallOptions {
  if (value === null || value === undefined) return {};
  if (!isObject(value)) throw invalid(field, 'must be an object');
  const known = new Set(['max_output_tokens', 'temperature', 'top_p', 'reasoning_effort']);
  for (const key of Object.keys(value)) if (!known.has(key)) throw invalid(`${field}.${key}`, 'is not a call option (max_output_tokens, temperature, top_p, reasoning_effort)');
  const out: ModelCallOptions = {};
  const { max_output_tokens: maxOut, temperature, top_p: topP, reasoning_effort: effort } = value;
  if (maxOut !== undefined && maxOut !== null) {
    if (typeof maxOut !== 'number' || !Number.isInteger(maxOut) || maxOut < 1 || maxOut > MAX_OUTPUT_TOKENS_LIMIT) {
      throw invalid(`${field}.max_output_tokens`, `must be an integer from 1 to ${MAX_OUTPUT_TOKENS_LIMIT}`);
    }
    out.maxOutputTokens = maxOut;
  }
  if (temperature !== undefined && temperature !== null) {
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0 || temperature > MAX_TEMPERATURE) {
      throw invalid(`${field}.temperature`, `must be a number from 0 to ${MAX_TEMPERATURE}`);
    }
    out.temperature = temperature;
  }
  if (topP !== undefined && topP !== null) {
    if (typeof topP !== 'number' || !Number.isFinite(topP) || topP < 0 || topP > 1) throw invalid(`${field}.top_p`, 'must be a number from 0 to 1');
    out.topP = topP;
  }
  if (effort !== undefined && effort !== null) out.reasoningEffort = parseReasoningEffort(effort, `${field}.reasoning_effort`);
  return out;
}

/** Validates provider options: null, or an object whose values are objects, at most 16 KiB as JSON. */
export function parseProviderOptions(value: unknown, field = 'provider_options'): ProviderOptions | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value)) throw invalid(field, 'must be an object of objects keyed by provider (e.g. {"openai": {...}})');
  for (const [key, inner] of Object.entries(value)) {
    if (!isObject(inner)) throw invalid(field, `"${key.slice(0, 64)}" must be an object`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > MAX_PROVIDER_OPTIONS_BYTES) throw invalid(field, `must be at most ${MAX_PROVIDER_OPTIONS_BYTES} bytes as JSON (got ${bytes})`);
  return value as ProviderOptions;
}

/** Call options in their wire (and stored) form: snake_case, unset fields left out. */
export type WireCallOptions = { max_output_tokens?: number; temperature?: number; top_p?: number; reasoning_effort?: ReasoningEffort };

/** The wire form of call options. */
export function toWireCallOptions(o: ModelCallOptions): WireCallOptions {
  const out: WireCallOptions = {};
  if (o.maxOutputTokens !== undefined) out.max_output_tokens = o.maxOutputTokens;
  if (o.temperature !== undefined) out.temperature = o.temperature;
  if (o.topP !== undefined) out.top_p = o.topP;
  if (o.reasoningEffort !== undefined) out.reasoning_effort = o.reasoningEffort;
  return out;
}
