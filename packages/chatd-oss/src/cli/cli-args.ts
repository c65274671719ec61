// What every `chatd` command shares: its I/O, the command shape, the usage error and strict flag
// parsing on node:util parseArgs. No command lives here (so commands and the dispatcher never import each other).
import { parseArgs } from 'node:util';

/** Where a command writes and what it reads. */
export type CliIo = {
  env: Record<string, string | undefined>;
  /** Writes one line to stdout. */
  out(line: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
};

/** One command: given the arguments after its name, resolves to an exit code. */
export type CliCommand = {
  summary: string;
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
};

/** A usage mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Flag specs as parseArgs takes them; a `multiple` flag comes back as a string array (read it with a cast). */
export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Parses `args` strictly; unknown flags or missing values become a UsageError. */
export function parseCommandArgs(args: string[], options: FlagSpec): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'invalid arguments');
  }
}
