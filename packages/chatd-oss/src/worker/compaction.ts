// Compaction inside a run (contract.md#compaction): the input estimate a run checks before each step, the split of
// the model-visible history into what a summary replaces and the newest part it keeps (never splitting an assistant
// message from the `tool` results of its calls), the summary request, and the three messages it saves. The store
// writes them in one fenced transaction (store/compaction-store.ts); this module decides and asks, and does not
// publish (the run does, like any step).
import { randomUUID } from 'node:crypto';
import type { Clock } from '@chatd/clock';
import type { ChatMessagePart } from '@chatd/protocol';
import type { RunWriter } from '../live/live-buffer.js';
import { demoPromptWords } from '../model/demo-model.js';
import { toLanguageModelPrompt, type ModelMessage } from '../model/language-model-prompt.js';
import { COMPACTION_SYSTEM_PROMPT } from '../model/task-prompts.js';
import type { ProviderKind } from '../model/model-settings.js';
import type { PersistCompactionInput } from '../store/compaction-store.js';
import type { TaskCallReport } from '../cost/model-call-charger.js';
import { generateTaskText } from './model-task.js';
import type { ResolvedModel } from './chat-run.js';

/** Name of the tool call a compaction shows in the visible history (the original's). */
export const CHAT_SUMMARIZED_TOOL_NAME = 'chat_summarized';
/** Characters per token of the estimate for what a provider has not counted yet. @default 4 */
export const CHARS_PER_TOKEN = 4;
/**
 * Share of the threshold's tokens (percent) the newest, kept part of the history may take after an automatic
 * compaction, so the next estimates start well below the threshold. @default 50
 */
export const DEFAULT_COMPACTION_KEEP_PERCENT = 50;
/** First line of the hidden summary message, so the model reads it as what it is. */
export const SUMMARY_MESSAGE_PREFIX = 'Summary of the earlier conversation:';

/** A history message as a run holds it: its row id once persisted; `summary` marks the hidden summary of a compaction. */
export type CompactableMessage = ModelMessage & { id?: number; summary?: boolean };

/** Who asked for a compaction. */
export type CompactionSource = 'automatic' | 'manual';

/** The result a compaction records in its `tool` message (the original's shape). */
export type ChatSummarizedResult = {
  summary: string;
  source: CompactionSource;
  threshold_percent: number | null;
  usage_percent: number | null;
  context_tokens: number;
  context_limit_tokens: number | null;
};

/** The reported input of the newest step and the index of the first message it did not see. */
export type InputBaseline = { inputTokens: number; fromIndex: number };

/** Tokens of a prompt as chatd estimates them: the demo model's word count, else characters / CHARS_PER_TOKEN. */
export function estimatePromptTokens(prompt: ReturnType<typeof toLanguageModelPrompt>, kind: ProviderKind | undefined): number {
  if (kind === 'demo') return demoPromptWords(prompt);
  let chars = 0;
  for (const m of prompt) {
    if (typeof m.content === 'string') {
      chars += m.content.length;
      continue;
    }
    for (const p of m.content) {
      if (p.type === 'text' || p.type === 'reasoning') chars += p.text.length;
      else if (p.type === 'tool-call') chars += p.toolName.length + JSON.stringify(p.input ?? {}).length;
      else if (p.type === 'tool-result') chars += p.toolName.length + JSON.stringify(p.output).length;
    }
  }
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

/**
 * The input estimate of the next step (contract.md#compaction): the newest step's reported input tokens plus the
 * estimate of the messages added since; the estimate of the whole prompt when no step reported any.
 */
export function estimateInput(messages: readonly ModelMessage[], systemPrompt: string, baseline: InputBaseline | undefined, kind: ProviderKind | undefined): number {
  if (baseline && baseline.fromIndex <= messages.length) {
    return baseline.inputTokens + estimatePromptTokens(toLanguageModelPrompt(messages.slice(baseline.fromIndex)), kind);
  }
  return estimatePromptTokens(toLanguageModelPrompt(messages, systemPrompt), kind);
}

/** The baseline of a history read from the store: its newest assistant message with reported input tokens. */
export function baselineOf(history: readonly { role: string; usage?: { input_tokens?: number } }[]): InputBaseline | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    const input = m.usage?.input_tokens;
    // That message's own words were not part of its input: they count from its index on.
    if (m.role === 'assistant' && typeof input === 'number') return { inputTokens: input, fromIndex: i };
  }
  return undefined;
}

/** Whether `estimate` passes `thresholdPercent` of `contextLimit` (a threshold of 0 or no limit: never). */
export function passesThreshold(estimate: number, contextLimit: number | undefined, thresholdPercent: number | undefined): boolean {
  if (!contextLimit || contextLimit <= 0 || thresholdPercent === undefined || thresholdPercent <= 0) return false;
  return estimate * 100 > thresholdPercent * contextLimit;
}

/** The split of a history: system messages (always kept in front), what the summary replaces, what stays after it. */
export type CompactionSplit = { system: CompactableMessage[]; older: CompactableMessage[]; kept: CompactableMessage[] };

/**
 * Splits `messages` for a compaction: the newest units whose estimate fits in `keepTokens` are kept (at least
 * `minKeptUnits` of them), everything older is summarized. A unit is a message with the `tool` messages that follow
 * it, so a tool call is never separated from its result. `older` is empty when there is nothing worth summarizing
 * (nothing older, or only the previous summary).
 */
export function splitForCompaction(
  messages: readonly CompactableMessage[],
  options: { keepTokens: number; minKeptUnits: number; kind: ProviderKind | undefined },
): CompactionSplit {
  const system = messages.filter((m) => m.role === 'system');
  const rest = messages.filter((m) => m.role !== 'system');
  const units: CompactableMessage[][] = [];
  for (const m of rest) {
    const last = units.at(-1);
    if (m.role === 'tool' && last) last.push(m);
    else units.push([m]);
  }
  let keptUnits = 0;
  let keptTokens = 0;
  for (let i = units.length - 1; i >= 0; i--) {
    const tokens = estimatePromptTokens(toLanguageModelPrompt(units[i]!), options.kind);
    if (keptUnits >= options.minKeptUnits && keptTokens + tokens > options.keepTokens) break;
    keptUnits++;
    keptTokens += tokens;
  }
  const older = units.slice(0, units.length - keptUnits).flat();
  const kept = units.slice(units.length - keptUnits).flat();
  if (older.length === 0 || (older.length === 1 && older[0]!.summary)) return { system, older: [], kept: [...older, ...kept] };
  return { system, older, kept };
}

const compact = (v: unknown) => JSON.stringify(v ?? null);

/** Characters of one tool call's input or one tool result a transcript carries at most. @default 2000 */
export const MAX_TRANSCRIPT_TOOL_CHARS = 2_000;
/** Share (percent) of the summary model's context limit the transcript may fill, the rest left to the prompt and answer. @default 75 */
export const TRANSCRIPT_CONTEXT_PERCENT = 75;

const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`);

/** Tokens of one transcript line as the estimate counts them (the demo model's words, else characters / 4). */
const lineTokens = (line: string, kind: ProviderKind | undefined): number => (kind === 'demo' ? (line.match(/\S+/g) ?? []).length : Math.ceil((line.length + 1) / CHARS_PER_TOKEN));

/**
 * The messages a summary replaces, as the plain-text transcript the summary request carries. Tool inputs and results
 * are cut to MAX_TRANSCRIPT_TOOL_CHARS each (a fetched file would otherwise fill the request); with a `budget` (from
 * the summary model's context limit) the lines in the middle give way first, so the previous summary at the start and
 * the latest exchanges at the end are always summarized.
 */
export function transcriptOf(messages: readonly CompactableMessage[], budget?: { maxTokens: number; kind?: ProviderKind | undefined }): string {
  const lines: string[] = [];
  for (const m of messages) {
    for (const p of m.content) {
      if (p.type === 'text' && p.text) lines.push(m.summary ? p.text : `${m.role === 'user' ? 'User' : m.role === 'assistant' ? 'Assistant' : 'System'}: ${p.text}`);
      else if (p.type === 'tool-call' && p.tool_name) lines.push(`Assistant called ${p.tool_name} ${cut(compact(p.args ?? {}), MAX_TRANSCRIPT_TOOL_CHARS)}`);
      else if (p.type === 'tool-result' && p.tool_name) lines.push(`Tool ${p.tool_name} returned ${cut(compact(p.result), MAX_TRANSCRIPT_TOOL_CHARS)}`);
    }
  }
  if (!budget) return lines.join('\n');
  const tokens = lines.map((l) => lineTokens(l, budget.kind));
  if (tokens.reduce((a, b) => a + b, 0) <= budget.maxTokens) return lines.join('\n');
  // Keep whole lines from both ends, alternating, while they fit beside the marker of what was left out.
  const marker = (n: number) => `[... ${n} lines of the conversation left out ...]`;
  let used = lineTokens(marker(lines.length), budget.kind);
  let i = 0;
  let j = lines.length - 1;
  while (i <= j) {
    const fromHead = i <= lines.length - 1 - j;
    const k = fromHead ? i : j;
    if (used + tokens[k]! > budget.maxTokens) break;
    used += tokens[k]!;
    if (fromHead) i++;
    else j--;
  }
  return [...lines.slice(0, i), marker(j - i + 1), ...lines.slice(j + 1)].join('\n');
}

/** What a compaction needs from its run. */
export type CompactOptions = {
  runId: string;
  chatId: string;
  writer: RunWriter;
  messages: readonly CompactableMessage[];
  systemPrompt: string;
  /** The chat's model (its kind, context limit and threshold are the estimate's). */
  resolved: ResolvedModel;
  /** The model that writes the summary (the deployment's compaction model, else the chat's). */
  summarizer: ResolvedModel;
  source: CompactionSource;
  /** Keep nothing but the system messages (a manual compaction of a resting chat). */
  keepNothing: boolean;
  /** The estimate that triggered it (or the current estimate of a manual one). */
  contextTokens: number;
  clock: Clock;
  signal: AbortSignal;
  /** Saves the three messages in one transaction and answers the summary's id (throws RUN_FENCED or a fault). */
  save(input: PersistCompactionInput): Promise<number>;
  /** Charges the summary request (contract.md#cost). */
  onCall?: TaskCallReport;
};

/** How a compaction went: `compacted` with the history the model sees from now on, `nothing` to summarize. */
export type CompactOutcome = { kind: 'compacted'; messages: CompactableMessage[] } | { kind: 'nothing' };

/**
 * Compacts: streams the `chat_summarized` call, asks `summarizer` for the summary, streams the result, saves the
 * three messages. Throws a model error (nothing saved) or the store's error.
 */
export async function compactHistory(o: CompactOptions): Promise<CompactOutcome> {
  const { resolved } = o;
  const contextLimit = resolved.contextLimit;
  const threshold = resolved.compressionThreshold;
  const keepTokens = o.keepNothing || !contextLimit || !threshold ? 0 : Math.floor((contextLimit * threshold * DEFAULT_COMPACTION_KEEP_PERCENT) / 10_000);
  const split = splitForCompaction(o.messages, { keepTokens, minKeptUnits: o.keepNothing ? 0 : 1, kind: resolved.kind });
  if (split.older.length === 0) return { kind: 'nothing' };
  const keptFromId = split.kept[0]?.id;
  // Every message of a run's history is persisted before it is pushed; one without an id would be lost to the model.
  if (split.kept.length > 0 && keptFromId === undefined) throw new Error('a kept message has no id');

  const toolCallId = `${CHAT_SUMMARIZED_TOOL_NAME}_${randomUUID()}`;
  const args = { source: o.source };
  o.writer.append({ type: 'tool-call', tool_call_id: toolCallId, tool_name: CHAT_SUMMARIZED_TOOL_NAME, args }, 'assistant');
  const callLastSeq = o.writer.lastSeq;
  const limit = o.summarizer.contextLimit;
  const budget = limit ? { maxTokens: Math.floor((limit * TRANSCRIPT_CONTEXT_PERCENT) / 100), kind: o.summarizer.kind } : undefined;
  const { text } = await generateTaskText(o.summarizer, COMPACTION_SYSTEM_PROMPT, transcriptOf(split.older, budget), { clock: o.clock, signal: o.signal, ...(o.onCall ? { onCall: o.onCall } : {}) });
  const summary = text.trim();
  if (summary === '') throw new Error('the summary model answered nothing');

  const result: ChatSummarizedResult = {
    summary,
    source: o.source,
    threshold_percent: threshold ?? null,
    usage_percent: contextLimit ? Math.round((o.contextTokens * 1000) / contextLimit) / 10 : null,
    context_tokens: o.contextTokens,
    context_limit_tokens: contextLimit ?? null,
  };
  const resultPart: ChatMessagePart = { type: 'tool-result', tool_call_id: toolCallId, tool_name: CHAT_SUMMARIZED_TOOL_NAME, result };
  o.writer.append({ ...resultPart }, 'tool');
  const summaryMessage: CompactableMessage = { role: 'user', content: [{ type: 'text', text: `${SUMMARY_MESSAGE_PREFIX}\n${summary}` }], summary: true };
  summaryMessage.id = await o.save({
    chatId: o.chatId,
    runId: o.runId,
    summary: summaryMessage.content,
    ...(keptFromId === undefined ? {} : { keptFromId }),
    call: [{ type: 'tool-call', tool_call_id: toolCallId, tool_name: CHAT_SUMMARIZED_TOOL_NAME, args }],
    callLastSeq,
    result: [resultPart],
    resultLastSeq: o.writer.lastSeq,
  });
  return { kind: 'compacted', messages: [...split.system, summaryMessage, ...split.kept] };
}
