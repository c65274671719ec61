// The terminal client of `chatd`: `chat`, `send`, `edit`, `watch`, `ls` and `tool-results`, speaking the public API through
// createChatClient. The server and token come from --url/--token, CHATD_URL/CHATD_TOKEN, or the
// .chatd/cluster.json that `npm start` writes. Replies print token by token, tool calls and results one line
// each (tool-lines.ts), calls the client must answer as `? name {...}` lines; a spinner shows until the first token when stderr is a terminal; piped output is plain text.
import fs from 'node:fs';
import path from 'node:path';
import type { Clock } from '@chatd/clock';
import { createRealClock } from '@chatd/clock';
import { createChatClient, isChatdClientError, type ChatClient, type ToolResult } from '@chatd/client';
import type { ChatInputPart, ChatStreamEvent } from '@chatd/protocol';
import { UsageError, parseCommandArgs, type CliCommand, type CliIo } from './cli-args.js';
import { createToolLinePrinter, formatPendingCall } from './tool-lines.js';

/** Where `npm start` writes the running cluster. */
export const CLUSTER_FILE = path.join('.chatd', 'cluster.json');
/** Spinner frame interval. @default 100 */
export const SPINNER_INTERVAL_MS = 100;

/** The cluster file's shape. */
export type ClusterFile = { replicas: { id: string; url: string }[]; token: string; database_url?: string };

/** Terminal hooks a client command uses beyond line output (tests replace them). */
export type ClientCommandDeps = {
  /** Writes text without a newline (streamed tokens). */
  write?: (text: string) => void;
  /** Writes to stderr without a newline (spinner). */
  writeErr?: (text: string) => void;
  /** Whether stderr is a terminal (spinner on). */
  isTty?: boolean;
  cwd?: string;
  clock?: Clock;
  /** Resolves to stop `watch`. @default SIGINT */
  stopSignal?: () => Promise<void>;
};

const connectionFlags = {
  url: { type: 'string' as const },
  token: { type: 'string' as const },
  replica: { type: 'string' as const },
};

/** Finds .chatd/cluster.json in `cwd` or a parent folder. */
export function findClusterFile(cwd: string): ClusterFile | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const file = path.join(dir, CLUSTER_FILE);
    if (fs.existsSync(file)) {
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterFile;
      } catch {
        throw new UsageError(`${file} is not valid JSON; restart \`npm start\` or pass --url and --token`);
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

function connect(values: Record<string, string | boolean | undefined>, io: CliIo, deps: ClientCommandDeps): { client: ChatClient; cluster: ClusterFile | undefined; url: string } {
  const cluster = findClusterFile(deps.cwd ?? process.cwd());
  const replicaIndex = values.replica === undefined ? 1 : Number(values.replica);
  if (!Number.isInteger(replicaIndex) || replicaIndex < 1) throw new UsageError(`invalid --replica "${String(values.replica)}"`);
  const url = (values.url as string | undefined) ?? io.env.CHATD_URL ?? cluster?.replicas[replicaIndex - 1]?.url;
  const token = (values.token as string | undefined) ?? io.env.CHATD_TOKEN ?? cluster?.token;
  if (!url || !token) throw new UsageError('no server: pass --url and --token, set CHATD_URL and CHATD_TOKEN, or run `npm start` first');
  return { client: createChatClient({ baseUrl: url, token, clock: deps.clock ?? createRealClock() }), cluster, url };
}

function replicaName(cluster: ClusterFile | undefined, workerId: string | null | undefined): string {
  if (!workerId) return 'no replica';
  const i = cluster?.replicas.findIndex((r) => r.id === workerId) ?? -1;
  return i >= 0 ? `replica ${i + 1} (${workerId.slice(0, 8)})` : `replica ${workerId.slice(0, 8)}`;
}

function startSpinner(deps: ClientCommandDeps, clock: Clock): () => void {
  if (!deps.isTty || !deps.writeErr) return () => {};
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  const write = deps.writeErr;
  const ticker = clock.setInterval(() => write(`\r${frames[i++ % frames.length]} thinking`), SPINNER_INTERVAL_MS, 'cli-spinner');
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    ticker.stop();
    write('\r           \r');
  };
}

/** `chatd chat "question"`: creates a chat and streams its reply. */
export function createChatCommand(deps: ClientCommandDeps = {}): CliCommand {
  return {
    summary: 'start a chat and stream the reply token by token',
    usage: 'chat "question" [--url URL --token TOKEN] [--replica N]',
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(args, connectionFlags);
      const question = positionals.join(' ').trim();
      if (!question) throw new UsageError('say something: chatd chat "question"');
      const { client } = connect(values, io, deps);
      const write = deps.write ?? ((t: string) => process.stdout.write(t));
      const clock = deps.clock ?? createRealClock();
      const chat = await client.create(question);
      io.err(`chat ${chat.id}`);
      const stopSpinner = startSpinner(deps, clock);
      let streamed = '';
      // Whether the last thing written ended its line, so a tool line never lands in the middle of text.
      let lineOpen = false;
      let wrote = false;
      const tools = createToolLinePrinter((line) => {
        stopSpinner();
        write(`${lineOpen ? '\n' : ''}${line}\n`);
        lineOpen = false;
        wrote = true;
      });
      const reply = await client.replyText(chat.id, {
        onText: (delta) => {
          stopSpinner();
          streamed += delta;
          write(delta);
          lineOpen = !delta.endsWith('\n');
          wrote = true;
        },
        onPart: (part) => tools.part(part),
        onMessage: (message) => tools.message(message),
        onDiscontinuity: (reason) => {
          stopSpinner();
          if (streamed) {
            write(`\n[stream interrupted: ${reason}; the final reply follows]\n`);
            lineOpen = false;
          }
          streamed = '';
        },
      });
      stopSpinner();
      if (streamed !== reply.text) {
        write(`${lineOpen ? '\n' : ''}${reply.text}`);
        lineOpen = reply.text !== '' && !reply.text.endsWith('\n');
        wrote ||= reply.text !== '';
      }
      if (lineOpen || !wrote) write('\n');
      // The turn waits for calls only this client's user can answer: say how.
      for (const call of reply.toolCalls ?? []) write(`${formatPendingCall(call, chat.id)}\n`);
      if (reply.status === 'error') {
        io.err(`error: ${reply.error?.message ?? 'the reply failed'}`);
        return 1;
      }
      return 0;
    },
  };
}

/** Media types `--file` infers from a file's extension (the types uploads take, contract.md#files). */
export const FILE_TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.json': 'application/json',
};

/** Uploads `file` (its type from its extension) and answers the part that names it. */
async function uploadPart(client: ChatClient, file: string, cwd: string): Promise<ChatInputPart> {
  const mediaType = FILE_TYPES_BY_EXTENSION[path.extname(file).toLowerCase()];
  if (!mediaType) throw new UsageError(`--file ${file}: unsupported type (use ${Object.keys(FILE_TYPES_BY_EXTENSION).join(', ')})`);
  let data: Buffer;
  try {
    data = fs.readFileSync(path.resolve(cwd, file));
  } catch (err) {
    throw new UsageError(`--file ${file}: ${(err as Error).message}`);
  }
  const { id } = await client.uploadFile(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { mediaType, name: path.basename(file) });
  return { type: 'file', file_id: id };
}

/** `chatd send <chat> "text" [--file PATH]... [--interrupt]`: files are uploaded first, then sent as parts after the text. */
export function createSendCommand(deps: ClientCommandDeps = {}): CliCommand {
  return {
    summary: 'send a message to a chat, with files (queued while it replies, unless --interrupt)',
    usage: 'send <chat> "text" [--file PATH]... [--interrupt] [--url URL --token TOKEN]',
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(args, { ...connectionFlags, interrupt: { type: 'boolean' }, file: { type: 'string', multiple: true } });
      const [chatId, ...rest] = positionals;
      const text = rest.join(' ').trim();
      const files = (values.file as unknown as string[] | undefined) ?? [];
      if (!chatId || (!text && files.length === 0)) throw new UsageError('usage: chatd send <chat> "text" [--file PATH]');
      const { client } = connect(values, io, deps);
      const parts: ChatInputPart[] = text ? [{ type: 'text', text }] : [];
      for (const file of files) parts.push(await uploadPart(client, file, deps.cwd ?? process.cwd()));
      const r = await client.post(chatId, parts, { busyBehavior: values.interrupt ? 'interrupt' : 'queue' });
      io.out(r.queued ? `queued (${r.queued_message?.id})` : `sent (message ${r.message?.id})`);
      return 0;
    },
  };
}

/** `chatd edit <chat> <message> "text"` (contract.md#edit): the message and every later one are replaced by a new turn. */
export function createEditCommand(deps: ClientCommandDeps = {}): CliCommand {
  return {
    summary: 'edit a user message: it and every later message are hidden and a new turn starts from the new text',
    usage: 'edit <chat> <message> "text" [--url URL --token TOKEN]',
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(args, connectionFlags);
      const [chatId, messageRaw, ...rest] = positionals;
      const text = rest.join(' ').trim();
      if (!chatId || !messageRaw || !text) throw new UsageError('usage: chatd edit <chat> <message> "text"');
      const messageId = Number(messageRaw);
      if (!Number.isSafeInteger(messageId) || messageId <= 0) throw new UsageError(`invalid message id "${messageRaw}": a positive integer (see \`chatd watch\` or GET /messages)`);
      const { client } = connect(values, io, deps);
      const r = await client.editMessage(chatId, messageId, { content: text });
      io.out(`edited (message ${r.message.id}; hid ${r.deleted_message_ids.length} message${r.deleted_message_ids.length === 1 ? '' : 's'})`);
      return 0;
    },
  };
}

/** `chatd watch <chat>`: follows a chat, resuming after dropped connections without repeating text. */
export function createWatchCommand(deps: ClientCommandDeps = {}): CliCommand {
  return {
    summary: 'follow a chat live (resumes after a dropped connection; shows the generating replica)',
    usage: 'watch <chat> [--url URL --token TOKEN] [--replica N]',
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(args, connectionFlags);
      const [chatId] = positionals;
      if (!chatId || positionals.length > 1) throw new UsageError('usage: chatd watch <chat>');
      const { client, cluster, url } = connect(values, io, deps);
      const write = deps.write ?? ((t: string) => process.stdout.write(t));
      const controller = new AbortController();
      const stop = deps.stopSignal ?? (() => new Promise<void>((resolve) => process.once('SIGINT', () => resolve())));
      void stop().then(() => controller.abort());
      io.err(`watching ${chatId} via ${url} (Ctrl-C to stop)`);
      /** Text printed per run from parts, so the durable message is not printed again. */
      const printedByRun = new Map<string, string>();
      /** The run whose text line is open (no newline yet). */
      let openRun: string | undefined;
      /** The run whose streamed text no message has settled yet (a tool line may have closed its line). */
      let textRun: string | undefined;
      const endLine = () => {
        if (openRun !== undefined) write('\n');
        openRun = undefined;
      };
      const tools = createToolLinePrinter((line) => {
        endLine();
        io.out(line);
      });
      const onEvent = async (e: ChatStreamEvent) => {
        switch (e.type) {
          case 'status':
            endLine();
            if (e.status.status === 'running') {
              const chat = await client.get(chatId).catch(() => undefined);
              io.out(`[running on ${replicaName(cluster, chat?.worker_id)}]`);
            } else io.out(`[${e.status.status}]`);
            return;
          case 'message_part': {
            const { run_id: runId, part } = e.message_part;
            if (part.type === 'tool-call' || part.type === 'tool-result') {
              tools.part(part);
              return;
            }
            if ((part.type !== 'text' && part.type !== 'reasoning') || !part.text) return;
            if (openRun !== runId) {
              endLine();
              openRun = runId;
            }
            textRun = runId;
            printedByRun.set(runId, (printedByRun.get(runId) ?? '') + part.text);
            write(part.text);
            return;
          }
          case 'message': {
            const m = e.message;
            const textOf = (m.content ?? []).filter((p) => p.type === 'text').map((p) => p.text ?? '').join('');
            if (m.role === 'user') {
              endLine();
              io.out(`> ${textOf}`);
              return;
            }
            if (m.role === 'tool') {
              tools.message(m);
              return;
            }
            if (m.role !== 'assistant') return;
            const printed = textRun !== undefined ? printedByRun.get(textRun) : undefined;
            if (printed !== undefined && textOf.startsWith(printed)) {
              const rest = textOf.slice(printed.length);
              if (rest !== '' && openRun === undefined) io.out(rest);
              else write(rest);
              printedByRun.delete(textRun!);
              textRun = undefined;
              endLine();
            } else {
              endLine();
              // A message of tool calls alone has no text line.
              if (textOf !== '' || !(m.content ?? []).some((p) => p.type === 'tool-call')) io.out(textOf);
            }
            tools.message(m);
            return;
          }
          case 'discontinuity':
            endLine();
            if (textRun) printedByRun.delete(textRun);
            textRun = undefined;
            io.out(`[${e.discontinuity.reason}: live text lost; resyncing from message ${e.discontinuity.resync_after_id}]`);
            return;
          case 'error':
            endLine();
            io.out(`[error: ${e.error.message}]`);
            return;
          case 'retry':
            endLine();
            io.out(`[retrying in ${e.retry.delay_ms} ms: ${e.retry.error}]`);
            return;
          case 'queue_update':
            return;
          case 'action_required':
            endLine();
            for (const call of e.action_required.tool_calls) io.out(formatPendingCall(call, chatId));
            return;
          case 'history_reset':
            // The visible history follows again as messages; text printed from parts belongs to the old one.
            endLine();
            printedByRun.clear();
            textRun = undefined;
            io.out('[history reset]');
            return;
        }
      };
      for await (const e of client.stream(chatId, { signal: controller.signal, onReconnect: (end) => {
        endLine();
        io.err(`[reconnecting in ${end.delayMs} ms]`);
      } })) {
        await onEvent(e);
      }
      endLine();
      return 0;
    },
  };
}

/** Splits `--error <id>` / `--error=<id>` (repeatable) out of `args`, which parseArgs cannot repeat. */
function takeErrorFlags(args: string[]): { rest: string[]; errorIds: string[] } {
  const rest: string[] = [];
  const errorIds: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--error') {
      const id = args[++i];
      if (id === undefined || id === '') throw new UsageError('--error needs a tool call id');
      errorIds.push(id);
    } else if (a.startsWith('--error=')) {
      const id = a.slice('--error='.length);
      if (id === '') throw new UsageError('--error needs a tool call id');
      errorIds.push(id);
    } else rest.push(a);
  }
  return { rest, errorIds };
}

/** `chatd tool-results <chat> <id>=<json>... [--error <id>]`: answers every pending client call of a chat at once. */
export function createToolResultsCommand(deps: ClientCommandDeps = {}): CliCommand {
  return {
    summary: 'answer the pending client tool calls of a chat (all at once), e.g. call_1=\'"yes"\'',
    usage: 'tool-results <chat> <tool_call_id>=<json>... [--error <tool_call_id>]... [--url URL --token TOKEN]',
    async run(args, io) {
      const { rest, errorIds } = takeErrorFlags(args);
      const { values, positionals } = parseCommandArgs(rest, connectionFlags);
      const [chatId, ...pairs] = positionals;
      if (!chatId || pairs.length === 0) throw new UsageError('give the chat and one <tool_call_id>=<json> per pending call');
      const results: ToolResult[] = [];
      for (const pair of pairs) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`"${pair}" is not <tool_call_id>=<json>`);
        const id = pair.slice(0, eq);
        if (results.some((r) => r.tool_call_id === id)) throw new UsageError(`${id} is answered twice`);
        let output: unknown;
        try {
          output = JSON.parse(pair.slice(eq + 1));
        } catch {
          throw new UsageError(`the output of ${id} is not JSON (a string needs quotes: ${id}='"text"')`);
        }
        results.push({ tool_call_id: id, output });
      }
      for (const id of errorIds) {
        const r = results.find((x) => x.tool_call_id === id);
        if (!r) throw new UsageError(`--error ${id} names no result given`);
        r.is_error = true;
      }
      const { client } = connect(values, io, deps);
      try {
        await client.submitToolResults(chatId, results);
      } catch (err) {
        // The route's 400 names the missing or unknown ids: print them, they are what to fix.
        if (isChatdClientError(err, 'INVALID_INPUT')) {
          io.err(`chatd tool-results: ${err.message}`);
          for (const v of err.validations ?? []) io.err(`  ${v.field}: ${v.detail}`);
          return 1;
        }
        throw err;
      }
      io.out(`sent ${results.length} result${results.length === 1 ? '' : 's'}; follow the reply with: chatd watch ${chatId}`);
      return 0;
    },
  };
}

/** `chatd ls`: the caller's chats. */
export function createLsCommand(deps: ClientCommandDeps = {}): CliCommand {
  return {
    summary: 'list your chats',
    usage: 'ls [--archived] [--url URL --token TOKEN]',
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(args, { ...connectionFlags, archived: { type: 'boolean' } });
      if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
      const { client, cluster } = connect(values, io, deps);
      const chats = await client.list({ archived: Boolean(values.archived), limit: 200 });
      for (const c of chats) io.out(`${c.id}  ${c.status.padEnd(8)}  ${replicaName(cluster, c.worker_id).padEnd(22)}  ${c.title}`);
      if (chats.length === 0) io.err('no chats yet: try chatd chat "hello"');
      return 0;
    },
  };
}
