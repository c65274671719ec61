// Charging one model call (contract.md#cost): its ledger row and the model call metrics, for chat turns and for
// chatd's own task requests (a generated title, a compaction summary) alike, so every call a user's chats make counts
// against their spend. A ledger fault never fails the caller: the call goes unrecorded and is logged.
import type { ChatMessageUsage } from '@chatd/protocol';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../server/server-metrics.js';
import type { CostStore, ModelCallInput } from './cost-store.js';

/** Records one call; its cost in micro-units, null when unpriced, undefined when it could not be recorded. */
export type ModelCallCharger = (input: ModelCallInput) => Promise<number | null | undefined>;

/** Options of `createModelCallCharger`. */
export type ModelCallChargerOptions = {
  costs: Pick<CostStore, 'recordModelCall'>;
  metrics?: Pick<ServerMetrics, 'inc'>;
  logger: Logger;
};

/** Creates the charger. */
export function createModelCallCharger(options: ModelCallChargerOptions): ModelCallCharger {
  const { costs, metrics, logger } = options;
  return async (input) => {
    try {
      const { costMicros } = await costs.recordModelCall(input);
      metrics?.inc('chatd_model_calls_total', 1, { priced: costMicros === null ? 'no' : 'yes' });
      if (costMicros !== null) metrics?.inc('chatd_model_cost_micros_total', costMicros);
      return costMicros;
    } catch (err) {
      logger.warn({ err, chatId: input.chatId, runId: input.runId }, 'recording a model call failed');
      return undefined;
    }
  };
}

/** What a task request reports once it ended (also after a failure that reported usage). */
export type TaskCallReport = (usage: ChatMessageUsage, runtimeMs: number) => Promise<unknown>;
