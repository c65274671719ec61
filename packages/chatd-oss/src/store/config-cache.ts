// A replica's cache of model configurations, providers and per-user system prompts. It drops entries
// when a `ChatConfigEvent` arrives on `chat:config_change` (from any replica, this one included), and
// everything when the pubsub reports lost messages. A load racing an invalidation is not cached, so a
// stale row read before the change never outlives the event.
import type pg from 'pg';
import { CHAT_CONFIG_EVENT_CHANNEL, handleChatConfigEvent, type ChatConfigEvent, type PubSub, type Unsubscribe } from '@chatd/pubsub';
import { requireUuid } from './chat-input.js';
import type { ChatModelConfig, ModelConfigStore, ProviderSettings } from './model-config-store.js';

/** Cached reads of the configuration tables. */
export interface ConfigCache {
  /** The configuration `id` when it exists and is enabled, else the default one (undefined when there is none). */
  resolveModelConfig(id?: string | null): Promise<ChatModelConfig | undefined>;
  getModelConfig(id: string): Promise<ChatModelConfig | undefined>;
  getDefaultModelConfig(): Promise<ChatModelConfig | undefined>;
  getProviderSettings(provider: string): Promise<ProviderSettings | undefined>;
  /** The user's own system prompt ('' when none or unknown). */
  userSystemPrompt(userId: string): Promise<string>;
  /** Drops what `event` names (everything when absent). */
  invalidate(event?: ChatConfigEvent): void;
  /** Subscribes to `chat:config_change`; resolves once listening. */
  start(): Promise<void>;
  /** Unsubscribes. */
  close(): Promise<void>;
}

/** Options of `createConfigCache`. */
export type ConfigCacheOptions = {
  store: ModelConfigStore;
  pool: pg.Pool;
  pubsub?: PubSub;
  /** Called when the subscription reports an error (the cache is dropped whole). */
  onError?: (err: unknown) => void;
};

/** Creates a replica's configuration cache. */
export function createConfigCache(options: ConfigCacheOptions): ConfigCache {
  const { store, pool } = options;
  let generation = 0;
  let configs = new Map<string, Promise<ChatModelConfig | undefined>>();
  let defaultConfig: Promise<ChatModelConfig | undefined> | undefined;
  let providers = new Map<string, Promise<ProviderSettings | undefined>>();
  let prompts = new Map<string, Promise<string>>();
  let unsubscribe: Unsubscribe | undefined;

  /** Memoises `load` in `map` unless an invalidation happens while it runs (or it fails). */
  function cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    if (hit) return hit;
    const gen = generation;
    const p = load();
    map.set(key, p);
    p.then(
      () => {
        if (gen !== generation && map.get(key) === p) map.delete(key);
      },
      () => {
        if (map.get(key) === p) map.delete(key);
      },
    );
    return p;
  }

  const cache: ConfigCache = {
    getModelConfig(id) {
      const cid = requireUuid(id, 'model config ID');
      return cached(configs, cid, () => store.getModelConfig(cid));
    },

    getDefaultModelConfig() {
      if (defaultConfig) return defaultConfig;
      const gen = generation;
      const p = store.getDefaultModelConfig();
      defaultConfig = p;
      p.then(
        () => {
          if (gen !== generation && defaultConfig === p) defaultConfig = undefined;
        },
        () => {
          if (defaultConfig === p) defaultConfig = undefined;
        },
      );
      return p;
    },

    async resolveModelConfig(id) {
      if (id !== undefined && id !== null) {
        const c = await cache.getModelConfig(id);
        if (c && c.enabled) return c;
      }
      return cache.getDefaultModelConfig();
    },

    getProviderSettings(provider) {
      return cached(providers, provider, () => store.getProviderSettings(provider));
    },

    userSystemPrompt(userId) {
      const uid = requireUuid(userId, 'user ID');
      return cached(prompts, uid, async () => {
        const { rows } = await pool.query<{ system_prompt: string }>('SELECT system_prompt FROM users WHERE id = $1', [uid]);
        return rows[0]?.system_prompt ?? '';
      });
    },

    invalidate(event) {
      generation++;
      if (!event) {
        configs = new Map();
        providers = new Map();
        prompts = new Map();
        defaultConfig = undefined;
        return;
      }
      switch (event.kind) {
        case 'providers':
          providers = new Map();
          break;
        case 'model_config':
          // The default may have moved to another row, so it goes too.
          configs.delete(event.entity_id);
          defaultConfig = undefined;
          break;
        case 'user_prompt':
          prompts.delete(event.entity_id);
          break;
      }
    },

    async start() {
      if (!options.pubsub || unsubscribe) return;
      unsubscribe = await options.pubsub.subscribe(
        CHAT_CONFIG_EVENT_CHANNEL,
        handleChatConfigEvent((event, err) => {
          if (err) {
            options.onError?.(err);
            cache.invalidate();
            return;
          }
          cache.invalidate(event);
        }),
      );
    },

    async close() {
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
  return cache;
}
