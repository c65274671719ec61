// The system prompts of chatd's own model requests besides chat turns: the summary a compaction asks for and the
// title asked for after a chat's first reply (contract.md#compaction). They live in model/ so that the demo model
// can recognise them and answer deterministically; the worker builds the requests (worker/compaction.ts,
// worker/chat-title.ts).

/** System prompt of a compaction request; the user message that follows is the transcript to summarize. */
export const COMPACTION_SYSTEM_PROMPT =
  'You compress a conversation between a user and an AI assistant so that the assistant can continue it without the original. ' +
  'Write a concise summary that keeps every fact, decision, open question, file name, tool result and instruction that may still matter. ' +
  'Answer with the summary only.';

/** System prompt of a title request; the user message that follows is the chat's first message. */
export const TITLE_SYSTEM_PROMPT =
  'Write a short title (at most six words) for a conversation that starts with the user message below. ' +
  'Answer with the title only: no quotes, no trailing punctuation.';

/** Words of the transcript the demo model's summary quotes. @default 8 */
export const DEMO_SUMMARY_QUOTED_WORDS = 8;
/** Words of the first message the demo model's title quotes. @default 4 */
export const DEMO_TITLE_QUOTED_WORDS = 4;

const words = (text: string): string[] => text.match(/\S+/g) ?? [];

/**
 * The demo model's answer to a compaction request (contract.md#demo-tools): `Summary of <n> words: <the first
 * DEMO_SUMMARY_QUOTED_WORDS words>`. Deterministic and short, so a compaction always shrinks what it covers.
 */
export function demoSummaryText(transcript: string): string {
  const all = words(transcript);
  return `Summary of ${all.length} words: ${all.slice(0, DEMO_SUMMARY_QUOTED_WORDS).join(' ')}`;
}

/** The demo model's answer to a title request: `Chat about <the first DEMO_TITLE_QUOTED_WORDS words>`. */
export function demoTitleText(firstMessage: string): string {
  return `Chat about ${words(firstMessage).slice(0, DEMO_TITLE_QUOTED_WORDS).join(' ')}`;
}
