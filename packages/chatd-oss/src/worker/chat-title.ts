// Generated chat titles (contract.md#compaction): after a chat's first reply the worker asks a model (the
// deployment's `title_model_config_id`, else the chat's own) for a title of its first message, falling back to
// the title rule (contract.md#title-rule) when the model fails or answers nothing usable; the title is written
// once, only while the chat still has its rule title (never over a PATCH), and published as `title_change`.
// `POST /{chat}/title/propose` uses the same request and stores nothing. Nothing here throws to the run.
import type { Clock } from '@chatd/clock';
import type { Chat, ChatMessageUsage } from '@chatd/protocol';
import type { ModelCallCharger } from '../cost/model-call-charger.js';
import type { Logger } from '../logger.js';
import { TITLE_SYSTEM_PROMPT } from '../model/task-prompts.js';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import { DEFAULT_CHAT_TITLE, TITLE_MAX_CODE_POINTS, titleFromText } from '../store/chat-input.js';
import type { ChatTitleStore } from '../store/chat-title-store.js';
import type { DeploymentConfigStore } from '../store/deployment-config-store.js';
import type { ModelResolver } from './chat-run.js';
import { generateTaskText } from './model-task.js';

/** Characters of the first message sent with a title request at most. @default 4000 */
export const MAX_TITLE_SOURCE_CHARS = 4_000;

/** How a title was made: by the model, or by the title rule after the model failed. */
export type TitleOrigin = 'model' | 'fallback';

/** Counters of the titler (they only grow). */
export type ChatTitlerMetrics = { generated: number; fallbacks: number };

/** Titles of chats. */
export interface ChatTitler {
  /** A title for the chat's first message, from the title model or the rule; stores nothing. NOT_FOUND-free: '' text gives `New Chat`. */
  propose(chat: Chat, signal?: AbortSignal): Promise<{ title: string; origin: TitleOrigin }>;
  /** After a reply: replaces a rule title once with a generated one and publishes `title_change`. Never throws. */
  generateAfterReply(chat: Chat, signal?: AbortSignal): Promise<void>;
  metrics(): ChatTitlerMetrics;
}

/** Options of `createChatTitler`. */
export type ChatTitlerOptions = {
  titles: ChatTitleStore;
  deploymentConfig: DeploymentConfigStore;
  resolveModel: ModelResolver;
  publisher: ChatPublisher;
  clock: Clock;
  logger: Logger;
  /** Charges each title request to the chat (contract.md#cost); none: uncharged. */
  charge?: ModelCallCharger;
};

/** A model's answer as a title: its first non-blank line, quotes and a closing period dropped, blanks collapsed, cut to the rule's length. */
export function cleanTitle(answer: string): string {
  const line = answer.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const unquoted = line
    .trim()
    .replace(/^(title:\s*)/i, '')
    .replace(/^["'“”‘’`*]+|["'“”‘’`*]+$/g, '')
    .replace(/\.$/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return Array.from(unquoted).slice(0, TITLE_MAX_CODE_POINTS).join('');
}

/** Creates the titler. */
export function createChatTitler(options: ChatTitlerOptions): ChatTitler {
  const { titles, deploymentConfig, resolveModel, publisher, clock, logger, charge } = options;
  const counters: ChatTitlerMetrics = { generated: 0, fallbacks: 0 };

  async function titleFor(chat: Chat, firstMessageText: string, signal: AbortSignal): Promise<{ title: string; origin: TitleOrigin }> {
    const fallback = { title: titleFromText(firstMessageText), origin: 'fallback' as const };
    if (firstMessageText.trim() === '') return fallback;
    try {
      const { title_model_config_id: configId } = await deploymentConfig.get();
      const resolved = await resolveModel(configId ? { ...chat, last_model_config_id: configId } : chat);
      const modelConfigId = resolved.modelConfigId ?? configId ?? chat.last_model_config_id ?? null;
      const onCall = charge ? { onCall: (usage: ChatMessageUsage, runtimeMs: number) => charge({ chatId: chat.id, modelConfigId, usage, runtimeMs }) } : {};
      const { text } = await generateTaskText(resolved, TITLE_SYSTEM_PROMPT, firstMessageText.slice(0, MAX_TITLE_SOURCE_CHARS), { clock, signal, ...onCall });
      const title = cleanTitle(text);
      if (title === '') return fallback;
      return { title, origin: 'model' };
    } catch (err) {
      logger.warn({ err, chatId: chat.id }, 'the title model failed; using the title rule');
      return fallback;
    }
  }

  return {
    async propose(chat, signal = new AbortController().signal) {
      const state = await titles.titleState(chat.id);
      return titleFor(chat, state?.firstMessageText ?? '', signal);
    },

    async generateAfterReply(chat, signal = new AbortController().signal) {
      try {
        const state = await titles.titleState(chat.id);
        if (!state || state.source !== 'rule') return;
        const { title, origin } = await titleFor(chat, state.firstMessageText, signal);
        // Stopped mid-request (shutdown): the chat keeps its rule title and the next run asks again.
        if (signal.aborted) return;
        if (origin === 'model') counters.generated++;
        else counters.fallbacks++;
        // Written even when it equals the rule title, so the chat is titled once (`generated`).
        const updated = await titles.setGeneratedTitle(chat.id, title === '' ? DEFAULT_CHAT_TITLE : title);
        if (updated && updated.title !== chat.title) await publisher.publishChatEvent('title_change', updated);
      } catch (err) {
        logger.warn({ err, chatId: chat.id }, 'generating the chat title failed');
      }
    },

    metrics: () => ({ ...counters }),
  };
}
