// The retention sweep of uploaded files (contract.md#files): every interval, files uploaded more than the retention
// ago that no message (or queued message) references are deleted. On the injected clock; it never throws (a failed
// sweep is logged and the next tick tries again). Every replica may sweep: the DELETE is idempotent.
import type { Clock, Ticker } from '@chatd/clock';
import type { Logger } from '../logger.js';
import { DEFAULT_FILE_RETENTION_MS } from '../config.js';
import type { FileStore } from '../store/file-store.js';

/** How often the sweep runs. @default 600000 (10 min) */
export const DEFAULT_FILE_SWEEP_INTERVAL_MS = 10 * 60 * 1000;
/** The sweep's timer tag, for tests that wait for it to be armed. */
export const FILE_SWEEP_TIMER_TAG = 'file-sweep';

/** Options of `createFileSweeper`. */
export type FileSweeperOptions = {
  files: Pick<FileStore, 'sweepUnreferenced'>;
  clock: Clock;
  logger: Logger;
  /** @default DEFAULT_FILE_RETENTION_MS */
  retentionMs?: number;
  /** @default DEFAULT_FILE_SWEEP_INTERVAL_MS */
  intervalMs?: number;
  /** Called with the number of files each sweep deleted. */
  onSwept?: (count: number) => void;
};

/** A running sweep. */
export interface FileSweeper {
  start(): void;
  stop(): void;
  /** One sweep now; answers how many files it deleted. */
  sweep(): Promise<number>;
}

/** Creates the sweep (not started). */
export function createFileSweeper(options: FileSweeperOptions): FileSweeper {
  const { files, clock, logger } = options;
  const retentionMs = options.retentionMs ?? DEFAULT_FILE_RETENTION_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_FILE_SWEEP_INTERVAL_MS;
  let ticker: Ticker | undefined;
  const sweep = async () => {
    const count = await files.sweepUnreferenced(clock.nowMs() - retentionMs);
    options.onSwept?.(count);
    if (count > 0) logger.info({ count }, 'deleted unreferenced files');
    return count;
  };
  return {
    start() {
      ticker ??= clock.setInterval(
        async () => {
          try {
            await sweep();
          } catch (err) {
            logger.warn({ err }, 'file retention sweep failed; the next tick retries');
          }
        },
        intervalMs,
        FILE_SWEEP_TIMER_TAG,
      );
    },
    stop() {
      ticker?.stop();
      ticker = undefined;
    },
    sweep,
  };
}
