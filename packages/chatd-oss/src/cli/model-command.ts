// `chatd model add|list|set-default`: model providers and configurations, for operators. Like `chatd token`
// it goes straight to the database (DATABASE_URL or --database-url), so it works before any replica runs and
// needs no admin token; each change NOTIFYs `chat:config_change` so running replicas drop their caches at once.
// It takes no API key on the command line (shell history keeps it): keys come from `--api-key-env`, the name
// of a variable every replica has, or from the admin route `POST /providers` with `api_key`.
import { createRealClock } from '@chatd/clock';
import { notifyInTransaction } from '@chatd/pubsub';
import { DEFAULT_MODEL_CONTEXT_LIMIT, requireDatabaseUrl } from '../config.js';
import type { ModelCallOptions } from '../model/model-settings.js';
import { isUuid } from '@chatd/protocol';
import { createPool } from '../store/db.js';
import { parseApiKeyEnv, parseCallOptions, parseProviderKind, toWireCallOptions } from '../store/model-config-input.js';
import { createModelConfigStore, type ChatModelConfig, type CreateProviderInput, type ModelConfigStore } from '../store/model-config-store.js';
import { UsageError, parseCommandArgs, type CliCommand, type CliIo } from './cli-args.js';
import { ChatdError } from '../chatd-error.js';
import { parseModelPricing, type ModelPricing } from '../cost/model-pricing.js';

const USAGE = [
  'model add --provider NAME --model MODEL [--kind demo|openai|anthropic|openai-compatible] [--base-url URL] [--api-key-env VAR]',
  '[--display-name TEXT] [--context-limit N] [--max-output-tokens N] [--temperature X] [--top-p X] [--reasoning-effort E] [--default]',
  '[--input-price N --output-price N [--cached-input-price N] [--reasoning-price N]]',
  '| model list | model set-default ID|MODEL | model set-price ID|MODEL --input-price N --output-price N [--cached-input-price N] [--reasoning-price N] | model set-price ID|MODEL --clear',
  '[--database-url URL]  (prices: micro-units per million tokens)',
].join(' ');

async function withStore<T>(io: CliIo, databaseUrl: string | undefined, fn: (store: ModelConfigStore) => Promise<T>): Promise<T> {
  const pool = createPool(requireDatabaseUrl(io.env, databaseUrl), 2);
  try {
    // Publishing is one NOTIFY on the pool: no LISTEN connection for a command that only writes.
    const pubsub = { publish: (channel: string, payload: Buffer | string) => notifyInTransaction(pool, channel, payload) };
    return await fn(createModelConfigStore({ pool, clock: createRealClock(), pubsub }));
  } finally {
    await pool.end();
  }
}

/** A number flag, or undefined when absent; a UsageError when it is not a number. */
function numberFlag(values: Record<string, string | boolean | undefined>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${String(raw)}"`);
  return n;
}

/** Call options as `max_output_tokens=1024,temperature=0.2` (wire names), or `-`. */
function callOptionsText(c: ChatModelConfig): string {
  const parts = Object.entries(toWireCallOptions(c.callOptions)).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? parts.join(',') : '-';
}

/** Price flags and the `pricing` fields they set. */
const PRICE_FLAGS = [
  ['input-price', 'input'],
  ['output-price', 'output'],
  ['cached-input-price', 'cached_input'],
  ['reasoning-price', 'reasoning'],
] as const;

/** Prices as `input=3000000,output=15000000` (micro-units per million tokens), or `-` when unpriced. */
function pricingText(c: ChatModelConfig): string {
  const pricing = c.pricing;
  if (!pricing) return '-';
  // In the flags' order (the database keeps JSON keys in its own order).
  return PRICE_FLAGS.flatMap(([, field]) => (pricing[field] === undefined ? [] : [`${field}=${String(pricing[field])}`])).join(',');
}

/** `chatd model ...` */
export const modelCommand: CliCommand = {
  summary: 'add, list and choose the default model configuration (and its provider)',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      provider: { type: 'string' },
      kind: { type: 'string' },
      'base-url': { type: 'string' },
      'api-key-env': { type: 'string' },
      model: { type: 'string' },
      'display-name': { type: 'string' },
      'context-limit': { type: 'string' },
      'max-output-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      'reasoning-effort': { type: 'string' },
      default: { type: 'boolean' },
      'database-url': { type: 'string' },
      'input-price': { type: 'string' },
      'output-price': { type: 'string' },
      'cached-input-price': { type: 'string' },
      'reasoning-price': { type: 'string' },
      clear: { type: 'boolean' },
    });
    // Prices (contract.md#cost), checked by the same rules as the admin routes before anything is written.
    const pricingFlags = (): ModelPricing | undefined => {
      const given = PRICE_FLAGS.filter(([flag]) => values[flag] !== undefined);
      if (given.length === 0) return undefined;
      const raw: Record<string, number | undefined> = {};
      for (const [flag, field] of PRICE_FLAGS) raw[field] = numberFlag(values, flag);
      for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
      try {
        return parseModelPricing(raw) ?? undefined;
      } catch (err) {
        if (err instanceof ChatdError) throw new UsageError(`${err.message} ${(err.validations ?? []).map((v) => `${v.field.replace('pricing.', '--').replace('_', '-')}-price ${v.detail}`).join('; ')}`);
        throw err;
      }
    };
    const [sub, ...extra] = positionals;
    const databaseUrl = values['database-url'] as string | undefined;
    switch (sub) {
      case 'add': {
        if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
        const provider = values.provider as string | undefined;
        const model = values.model as string | undefined;
        if (!provider) throw new UsageError('--provider is required');
        if (!model) throw new UsageError('--model is required');
        const contextLimit = numberFlag(values, 'context-limit') ?? DEFAULT_MODEL_CONTEXT_LIMIT;
        if (!Number.isSafeInteger(contextLimit) || contextLimit <= 0) throw new UsageError(`--context-limit must be a positive integer, got "${String(values['context-limit'])}"`);
        // Everything is checked before anything is written (the store checks again: one set of rules), so a
        // refused configuration never leaves a new provider behind.
        const callOptions: ModelCallOptions = parseCallOptions({
          max_output_tokens: numberFlag(values, 'max-output-tokens'),
          temperature: numberFlag(values, 'temperature'),
          top_p: numberFlag(values, 'top-p'),
          reasoning_effort: values['reasoning-effort'],
        });
        const pricing = pricingFlags();
        const providerFields: Omit<CreateProviderInput, 'provider'> = {
          ...(values.kind !== undefined ? { kind: parseProviderKind(values.kind) } : {}),
          ...(values['base-url'] !== undefined ? { baseUrl: values['base-url'] as string } : {}),
          ...(values['api-key-env'] !== undefined ? { apiKeyEnv: parseApiKeyEnv(values['api-key-env']) } : {}),
        };
        return withStore(io, databaseUrl, async (store) => {
          const existing = (await store.listProviders()).find((p) => p.provider === provider);
          if (!existing) {
            const p = await store.createProvider({ provider, displayName: provider, ...providerFields });
            io.out(`created provider ${p.provider} (${p.kind}${p.api_key_env ? `, key from $${p.api_key_env}` : ''})`);
          } else if (Object.keys(providerFields).length > 0) {
            const p = await store.updateProvider(existing.id, providerFields);
            io.out(`updated provider ${p.provider} (${p.kind}${p.api_key_env ? `, key from $${p.api_key_env}` : ''})`);
          }
          const c = await store.createModelConfig({
            provider,
            model,
            contextLimit,
            callOptions,
            ...(pricing ? { pricing } : {}),
            ...(values['display-name'] !== undefined ? { displayName: values['display-name'] as string } : { displayName: model }),
            ...(values.default === true ? { isDefault: true } : {}),
          });
          io.out(`added model config ${c.id} (${c.provider}/${c.model}${c.is_default ? ', default' : ''})`);
          return 0;
        });
      }
      case 'list': {
        if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
        return withStore(io, databaseUrl, async (store) => {
          const providers = new Map((await store.listProviders()).map((p) => [p.provider, p]));
          io.out(['ID', 'PROVIDER', 'KIND', 'MODEL', 'DEFAULT', 'ENABLED', 'CONTEXT', 'KEY', 'CALL OPTIONS', 'PRICES'].join('\t'));
          for (const c of await store.listModelConfigs()) {
            const p = providers.get(c.provider);
            const key = p?.api_key_env ? `$${p.api_key_env}` : p?.has_api_key ? 'stored' : '-';
            io.out(
              [c.id, c.provider, p?.kind ?? '?', c.model, c.is_default ? 'yes' : '-', c.enabled ? 'yes' : 'no', String(c.context_limit), key, callOptionsText(c), pricingText(c)].join('\t'),
            );
          }
          return 0;
        });
      }
      case 'set-default': {
        const [target, ...more] = extra;
        if (target === undefined) throw new UsageError('a model config ID (or a model name) is required');
        if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}"`);
        return withStore(io, databaseUrl, async (store) => {
          const configs = await store.listModelConfigs();
          const matches = isUuid(target) ? configs.filter((c) => c.id === target.toLowerCase()) : configs.filter((c) => c.model === target);
          if (matches.length !== 1) {
            io.err(
              matches.length === 0
                ? `chatd model set-default: no model config "${target}" (see chatd model list)`
                : `chatd model set-default: ${matches.length} configs use model "${target}"; give an ID (see chatd model list)`,
            );
            return 1;
          }
          const c = await store.updateModelConfig(matches[0]!.id, { isDefault: true });
          io.out(`default model config ${c.id} (${c.provider}/${c.model})`);
          return 0;
        });
      }
      case 'set-price': {
        const [target, ...more] = extra;
        if (target === undefined) throw new UsageError('a model config ID (or a model name) is required');
        if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}"`);
        const pricing = values.clear === true ? null : pricingFlags();
        if (pricing === undefined) throw new UsageError('--input-price and --output-price (or --clear) are required');
        return withStore(io, databaseUrl, async (store) => {
          const configs = await store.listModelConfigs();
          const matches = isUuid(target) ? configs.filter((c) => c.id === target.toLowerCase()) : configs.filter((c) => c.model === target);
          if (matches.length !== 1) {
            io.err(matches.length === 0 ? `chatd model set-price: no model config "${target}" (see chatd model list)` : `chatd model set-price: ${matches.length} configs use model "${target}"; give an ID`);
            return 1;
          }
          const c = await store.updateModelConfig(matches[0]!.id, { pricing });
          io.out(`prices of ${c.id} (${c.provider}/${c.model}): ${pricingText(c)}`);
          return 0;
        });
      }
      case undefined:
        throw new UsageError('a subcommand is required (add, list, set-default, set-price)');
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  },
};
