// The `chatd` command line: a dispatch table of commands (`migrate`, `serve`, `token ...`, `model ...`, `config ...`, and the terminal client's `chat`, `send`, `edit`, `watch`, `ls`, `tool-results`; other bins
// may pass their own), each parsing its flags with node:util parseArgs.
// Exit codes: 0 done, 1 the operation failed, 2 usage or configuration error (one line on stderr).
import { ChatdError } from '../chatd-error.js';
import { sqlState } from '../store/db.js';
import { UsageError, type CliCommand, type CliIo } from './cli-args.js';
import { createChatCommand, createEditCommand, createLsCommand, createSendCommand, createToolResultsCommand, createWatchCommand } from './client-commands.js';
import { configCommand } from './config-command.js';
import { migrateCommand } from './migrate-command.js';
import { modelCommand } from './model-command.js';
import { limitCommand } from './limit-command.js';
import { serveCommand } from './serve-command.js';
import { tokenCommand } from './token-command.js';

/** Exit code of a usage or configuration error. */
export const EXIT_USAGE = 2;
/** Exit code of a failed operation. */
export const EXIT_FAILURE = 1;

/** The commands of `chatd`. */
export const CHATD_COMMANDS: Readonly<Record<string, CliCommand>> = {
  migrate: migrateCommand,
  serve: serveCommand,
  token: tokenCommand,
  model: modelCommand,
  config: configCommand,
  limit: limitCommand,
  chat: createChatCommand({ isTty: Boolean(process.stderr.isTTY), writeErr: (t) => process.stderr.write(t) }),
  send: createSendCommand(),
  edit: createEditCommand(),
  watch: createWatchCommand(),
  ls: createLsCommand(),
  'tool-results': createToolResultsCommand(),
};

function help(name: string, commands: Readonly<Record<string, CliCommand>>): string[] {
  return [
    `usage: ${name} <command> [flags]`,
    '',
    'commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`),
    '',
    'environment: DATABASE_URL (or --database-url) is required by every command that touches the database.',
  ];
}

/** Runs `chatd` with `argv` (without node and the script); resolves to the exit code. Never throws. */
export async function runCli(
  argv: string[],
  io: CliIo,
  options: { name?: string; commands?: Readonly<Record<string, CliCommand>> } = {},
): Promise<number> {
  const name = options.name ?? 'chatd';
  const commands = { ...CHATD_COMMANDS, ...options.commands };
  const [commandName, ...rest] = argv;
  if (commandName === undefined || commandName === 'help' || commandName === '--help' || commandName === '-h') {
    for (const line of help(name, commands)) (commandName === undefined ? io.err : io.out)(line);
    return commandName === undefined ? EXIT_USAGE : 0;
  }
  const command = Object.hasOwn(commands, commandName) ? commands[commandName] : undefined;
  if (!command) {
    io.err(`${name}: unknown command "${commandName}" (try "${name} help")`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: ${name} ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${name} ${commandName}: ${err.message} (usage: ${name} ${command.usage})`);
      return EXIT_USAGE;
    }
    if (err instanceof ChatdError && (err.code === 'CONFIG' || err.code === 'INVALID_INPUT')) {
      io.err(`${name} ${commandName}: ${err.message}${err.detail ? ` ${err.detail}` : ''}`);
      return EXIT_USAGE;
    }
    if (sqlState(err) === '42P01') {
      io.err(`${name} ${commandName}: the database has no chatd tables; run "${name} migrate" first`);
      return EXIT_FAILURE;
    }
    const message = (err as Error)?.message ?? String(err);
    io.err(`${name} ${commandName}: ${message.split('\n')[0]}`);
    return EXIT_FAILURE;
  }
}
