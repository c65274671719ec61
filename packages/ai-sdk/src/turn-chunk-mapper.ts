// The chunk mapping of one turn (contract.md#ai-sdk): chatd stream events in, AI SDK UIMessageChunks out, so that
// the UIMessage the SDK assembles equals the one loadUIMessages builds from the stored history. A step's
// streamed parts become text/reasoning/tool-input chunks as they arrive; the step's durable message then closes
// the step, emitting whatever the parts did not carry (a replay that starts after them, a coalesced gap); the
// `tool` message's results become tool outputs. Pure state: no socket, no timer.
import type { ChatMessage, ChatMessagePart, ChatStreamEvent, DiscontinuityReason } from '@chatd/protocol';
import type { UIMessageChunk } from 'ai';
import { toolErrorText } from './tool-part.js';

/** What the mapper writes to and tells. */
export type TurnChunkMapperOptions = {
  emit(chunk: UIMessageChunk): void;
  /** A run was lost (`run_lost`, `relay_failed`): its in-flight parts are void; the mapper follows the next run. */
  onResync?(reason: DiscontinuityReason): void;
  /** Tool calls the UI message already holds (a continuation after client tool outputs): their results may be emitted. */
  knownToolCalls?: Iterable<string>;
  /** Steps the UI message already holds (a continuation): the first step mapped is step number `stepsBefore`. @default 0 */
  stepsBefore?: number;
};

/** Maps the events of one turn to chunks; see the file header. */
export interface TurnChunkMapper {
  /** Emits `start` with the turn's message id. */
  start(messageId: string): void;
  /** Maps one stream event of the turn (`message_part`, `message` of an assistant or tool, `retry`, `discontinuity`); others are ignored. */
  event(event: ChatStreamEvent): void;
  /** Maps one durable assistant or `tool` message of the turn (a stream `message` event or one read over REST); a repeat is dropped. */
  message(message: ChatMessage): void;
  /** Closes what is open (text, reasoning, the step) without `finish`. */
  close(): void;
  /** Closes what is open and emits `finish`. */
  finish(): void;
  /** The highest durable message id mapped (0n when none). */
  readonly highestMessageId: bigint;
  /** Whether the UI message holds content the stored history does not (a re-run step that did not repeat what was shown). */
  readonly diverged: boolean;
}

type TextBlock = { kind: 'text' | 'reasoning'; id: string; text: string; open: boolean };
type ToolBlock = { kind: 'tool'; toolCallId: string; toolName: string; inputText: string; available: boolean };
type SourceBlock = { kind: 'source'; sourceId: string };
type Block = TextBlock | ToolBlock | SourceBlock;

/** The parts of a stored assistant message that become UI parts (files of assistant messages are not shown). */
type MappedPart = Extract<ChatMessagePart, { type: 'text' | 'reasoning' | 'tool-call' | 'source' }>;
const isMapped = (p: ChatMessagePart): p is MappedPart => p.type === 'text' || p.type === 'reasoning' || p.type === 'tool-call' || p.type === 'source';

/**
 * The id of the text or reasoning part at `index` of step `step` of a turn: the SDK keeps a reasoning part's id
 * in the message, so loadUIMessages gives the same (contract.md#ai-sdk).
 */
export function uiPartId(kind: 'text' | 'reasoning', step: number, index: number): string {
  return `${kind}-${step}-${index}`;
}

/** Creates the mapper of one turn. */
export function createTurnChunkMapper(options: TurnChunkMapperOptions): TurnChunkMapper {
  const { emit } = options;
  let stepOpen = false;
  let blocks: Block[] = [];
  /** After a void run or a retried attempt, new parts re-match the shown blocks of the step from here. */
  let replay: { index: number; offset: number } | undefined;
  let diverged = false;
  let highest = 0n;
  /** Number of the current (or next) step in the turn: part ids derive from it (reasoning parts keep theirs). */
  let step = options.stepsBefore ?? 0;
  /** Blocks of the step before this index are a void run's that the next run did not repeat. */
  let base = 0;
  /** Highest part seq per run: a part sent again (after a `too_slow` cut) is dropped here as well. */
  const runSeq = new Map<string, number>();
  /** Tool calls of the UI message, with whether their output was emitted. */
  const toolCalls = new Map<string, { output: boolean }>();
  for (const id of options.knownToolCalls ?? []) toolCalls.set(id, { output: false });

  /** Whether tool results of the open step came in: its model output is over, so an assistant part starts a new step. */
  let stepHasResults = false;
  /** Steps closed in the UI before their durable message came (the next step's parts overtook it), oldest first. */
  const unconfirmed: Block[][] = [];

  /** While a step's message is mapped, its parts belong to the open step whatever came before. */
  let closing = false;

  const ensureStep = () => {
    if (stepOpen && stepHasResults && !closing) {
      // The step's message is still on its way (parts are local, messages come through NOTIFY): close the step
      // now, as it stands; its message, when it comes, is checked against it.
      unconfirmed.push(blocks);
      closeText();
      emit({ type: 'finish-step' });
      stepOpen = false;
      step++;
    }
    if (stepOpen) return;
    emit({ type: 'start-step' });
    stepOpen = true;
    stepHasResults = false;
    blocks = [];
    base = 0;
    replay = undefined;
  };
  const closeText = () => {
    for (const b of blocks) {
      if ((b.kind === 'text' || b.kind === 'reasoning') && b.open) {
        emit({ type: b.kind === 'text' ? 'text-end' : 'reasoning-end', id: b.id });
        b.open = false;
      }
    }
  };
  const openText = (kind: 'text' | 'reasoning', text: string): TextBlock => {
    closeText();
    const b: TextBlock = { kind, id: uiPartId(kind, step, blocks.length), text: '', open: true };
    emit({ type: kind === 'text' ? 'text-start' : 'reasoning-start', id: b.id });
    blocks.push(b);
    appendTo(b, text);
    return b;
  };
  const appendTo = (b: TextBlock, text: string) => {
    if (text === '') return;
    emit({ type: b.kind === 'text' ? 'text-delta' : 'reasoning-delta', id: b.id, delta: text });
    b.text += text;
  };
  const diverge = () => {
    replay = undefined;
    diverged = true;
    base = blocks.length;
    closeText();
  };
  const lastBlock = () => blocks[blocks.length - 1];

  /** Consumes `text` of `kind` against the shown blocks while replaying; answers what is left to show. */
  const replayText = (kind: 'text' | 'reasoning', text: string): string => {
    while (replay && text !== '') {
      const b = blocks[replay.index];
      if (!b) {
        replay = undefined;
        break;
      }
      if (b.kind !== kind) {
        if (replayBlockDone(b)) {
          replay = { index: replay.index + 1, offset: 0 };
          continue;
        }
        diverge();
        break;
      }
      const rest = b.text.slice(replay.offset);
      if (rest === '') {
        // This block is matched in full: more of the same kind extends it only if it is the last and still open.
        if (replay.index === blocks.length - 1 && b.open) {
          replay = undefined;
          appendTo(b, text);
          return '';
        }
        diverge();
        break;
      }
      if (text.startsWith(rest)) {
        replay = { index: replay.index, offset: b.text.length };
        text = text.slice(rest.length);
      } else if (rest.startsWith(text)) {
        replay = { index: replay.index, offset: replay.offset + text.length };
        return '';
      } else {
        diverge();
        break;
      }
    }
    return text;
  };
  const replayBlockDone = (b: Block) => (b.kind === 'text' || b.kind === 'reasoning' ? replay !== undefined && replay.offset >= b.text.length : replay !== undefined && replay.offset > 0);

  const addText = (kind: 'text' | 'reasoning', text: string) => {
    ensureStep();
    if (replay) {
      text = replayText(kind, text);
      if (text === '') return;
    }
    const last = lastBlock();
    if (last && last.kind === kind && last.open) appendTo(last, text);
    else openText(kind, text);
  };

  /** While replaying, whether the tool block at the replay position is call `id` (and moves past it when `done`). */
  const replayTool = (id: string, done: boolean): ToolBlock | undefined => {
    if (!replay) return undefined;
    let b = blocks[replay.index];
    if (b && b.kind !== 'tool' && replayBlockDone(b)) {
      replay = { index: replay.index + 1, offset: 0 };
      b = blocks[replay.index];
    }
    if (!b) {
      replay = undefined;
      return undefined;
    }
    if (b.kind === 'tool' && b.toolCallId === id) {
      if (done) replay = { index: replay.index, offset: 1 };
      return b;
    }
    diverge();
    return undefined;
  };

  const toolBlock = (id: string) => blocks.find((b): b is ToolBlock => b.kind === 'tool' && b.toolCallId === id);

  const toolDelta = (id: string, name: string, delta: string) => {
    ensureStep();
    const replayed = replayTool(id, false);
    let b = replayed ?? toolBlock(id);
    if (replayed) return; // its input was shown before; the call's complete input follows
    if (!b) {
      closeText();
      b = { kind: 'tool', toolCallId: id, toolName: name, inputText: '', available: false };
      blocks.push(b);
      toolCalls.set(id, toolCalls.get(id) ?? { output: false });
      emit({ type: 'tool-input-start', toolCallId: id, toolName: name });
    }
    if (b.available || delta === '') return;
    b.inputText += delta;
    emit({ type: 'tool-input-delta', toolCallId: id, inputTextDelta: delta });
  };

  const toolInput = (id: string, name: string, args: unknown, providerExecuted: boolean | undefined) => {
    ensureStep();
    let b = replayTool(id, true) ?? toolBlock(id);
    if (!b) {
      closeText();
      b = { kind: 'tool', toolCallId: id, toolName: name, inputText: '', available: false };
      blocks.push(b);
    }
    toolCalls.set(id, toolCalls.get(id) ?? { output: false });
    if (b.available) return;
    b.available = true;
    emit({ type: 'tool-input-available', toolCallId: id, toolName: name, input: args ?? {}, ...(providerExecuted ? { providerExecuted: true } : {}) });
  };

  const source = (p: Extract<ChatMessagePart, { type: 'source' }>) => {
    ensureStep();
    if (replay) {
      const b = blocks[replay.index];
      if (b && b.kind !== 'source' && replayBlockDone(b)) replay = { index: replay.index + 1, offset: 0 };
      const at = replay ? blocks[replay.index] : undefined;
      if (at && at.kind === 'source' && at.sourceId === p.source_id) {
        replay = { index: replay.index + 1, offset: 0 };
        if (!blocks[replay.index]) replay = undefined;
        return;
      }
      if (at) diverge();
      else replay = undefined;
    }
    closeText();
    blocks.push({ kind: 'source', sourceId: p.source_id });
    emit({ type: 'source-url', sourceId: p.source_id, url: p.url, ...(p.title !== undefined ? { title: p.title } : {}) });
  };

  const output = (p: Extract<ChatMessagePart, { type: 'tool-result' }>) => {
    if (stepOpen && toolBlock(p.tool_call_id)) stepHasResults = true;
    const call = toolCalls.get(p.tool_call_id);
    // The SDK refuses an output for a call the UI message does not hold.
    if (!call || call.output) return;
    call.output = true;
    if (p.is_error) emit({ type: 'tool-output-error', toolCallId: p.tool_call_id, errorText: toolErrorText(p.result) });
    else emit({ type: 'tool-output-available', toolCallId: p.tool_call_id, output: p.result ?? null });
  };

  const part = (p: ChatMessagePart) => {
    switch (p.type) {
      case 'text':
      case 'reasoning':
        addText(p.type, p.text);
        return;
      case 'tool-call':
        if (p.args_delta !== undefined && p.args === undefined) toolDelta(p.tool_call_id, p.tool_name, p.args_delta);
        else toolInput(p.tool_call_id, p.tool_name, p.args, p.provider_executed);
        return;
      case 'source':
        source(p);
        return;
      case 'tool-result':
        // A long tool's streamed output (`result_delta`) is not shown: its stored result follows.
        if (p.result_delta === undefined || p.result !== undefined) output(p);
        else if (stepOpen && toolBlock(p.tool_call_id)) stepHasResults = true;
        return;
      default:
        return;
    }
  };

  /** Closes the step with its durable message: what the parts did not show is emitted now. */
  const closeStep = (content: MappedPart[]) => {
    closing = true;
    try {
      mapStep(content);
    } finally {
      closing = false;
    }
  };
  const mapStep = (content: MappedPart[]) => {
    ensureStep();
    replay = undefined;
    const shown = blocks.slice(base);
    let i = 0;
    for (; i < content.length; i++) {
      const c = content[i]!;
      const b = shown[i];
      if (!b) break;
      if ((c.type === 'text' || c.type === 'reasoning') && b.kind === c.type) {
        if (!c.text.startsWith(b.text) || (c.text.length > b.text.length && !b.open)) break;
        appendTo(b, c.text.slice(b.text.length));
      } else if (c.type === 'tool-call' && b.kind === 'tool' && b.toolCallId === c.tool_call_id) {
        toolInput(c.tool_call_id, c.tool_name, c.args, c.provider_executed);
      } else if (c.type === 'source' && b.kind === 'source' && b.sourceId === c.source_id) {
        // shown
      } else break;
    }
    if (i < shown.length) {
      // What was shown is not what was stored (a void run's parts that the next run did not repeat): show the
      // stored parts after it; loadUIMessages gives the stored message alone.
      diverged = true;
      closeText();
      const rest = content.slice(i);
      for (const c of rest) {
        if (c.type === 'tool-call' && toolBlock(c.tool_call_id)) continue;
        if (c.type === 'text' || c.type === 'reasoning') openText(c.type, c.text);
        else part(c);
      }
    } else {
      for (const c of content.slice(i)) {
        if (c.type === 'tool-call') toolInput(c.tool_call_id, c.tool_name, c.args, c.provider_executed);
        else part(c);
      }
    }
    closeText();
    emit({ type: 'finish-step' });
    stepOpen = false;
    blocks = [];
    step++;
  };

  /** The message of a step the UI already closed: nothing can be added to it any more, only checked. */
  const confirmClosed = (shown: Block[], content: MappedPart[]) => {
    const same =
      shown.length === content.length &&
      content.every((c, i) => {
        const b = shown[i]!;
        if (c.type === 'text' || c.type === 'reasoning') return b.kind === c.type && b.text === c.text;
        if (c.type === 'tool-call') return b.kind === 'tool' && b.toolCallId === c.tool_call_id && b.available;
        return b.kind === 'source' && b.sourceId === c.source_id;
      });
    if (!same) diverged = true;
  };

  const mapper: TurnChunkMapper = {
    start(messageId) {
      emit({ type: 'start', messageId });
    },
    event(event) {
      switch (event.type) {
        case 'message_part': {
          const { run_id: run, seq, part: p } = event.message_part;
          if (seq <= (runSeq.get(run) ?? 0)) return;
          runSeq.set(run, seq);
          part(p);
          return;
        }
        case 'message':
          mapper.message(event.message);
          return;
        case 'retry':
          // The step's attempt failed: its parts are void and the next attempt starts the step again.
          if (blocks.length > 0) replay = { index: 0, offset: 0 };
          return;
        case 'discontinuity': {
          const { reason } = event.discontinuity;
          // `too_slow` cut the socket: the same run's parts follow again and the seq check drops the repeats.
          if (reason === 'too_slow') return;
          if (blocks.length > 0) replay = { index: 0, offset: 0 };
          options.onResync?.(reason);
          return;
        }
        default:
          return;
      }
    },
    message(m) {
      const id = BigInt(m.id);
      if (id <= highest) return;
      highest = id;
      if (m.run_id !== undefined && m.last_seq !== undefined) runSeq.set(m.run_id, Math.max(runSeq.get(m.run_id) ?? 0, m.last_seq));
      const content = m.content ?? [];
      if (m.role === 'assistant' && unconfirmed.length > 0) confirmClosed(unconfirmed.shift()!, content.filter(isMapped));
      else if (m.role === 'assistant') closeStep(content.filter(isMapped));
      else if (m.role === 'tool') for (const p of content) if (p.type === 'tool-result') output(p);
    },
    close() {
      closeText();
      if (stepOpen) {
        emit({ type: 'finish-step' });
        step++;
      }
      stepOpen = false;
      blocks = [];
    },
    finish() {
      mapper.close();
      emit({ type: 'finish' });
    },
    get highestMessageId() {
      return highest;
    },
    get diverged() {
      return diverged;
    },
  };
  return mapper;
}
