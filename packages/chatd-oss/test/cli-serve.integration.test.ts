import { useTestDatabase, waitFor } from '@chatd/testkit';
import { describe, expect, it } from 'vitest';
import { createServeCommand } from '../src/cli/serve-command.js';
import { runCli } from '../src/cli/run-cli.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

function io(env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { env, out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('chatd serve', () => {
  it('listens, answers /healthz, and stops cleanly when told (as on SIGTERM)', async () => {
    let stop!: (sig: string) => void;
    let running: RunningChatd | undefined;
    const serve = createServeCommand({ stopSignal: () => new Promise((r) => (stop = r)), onStarted: (r) => (running = r) });
    const t = io({ DATABASE_URL: db.url, CHATD_LOG_LEVEL: 'silent' });
    const exit = runCli(['serve', '--port', '0', '--no-worker'], t.io, { commands: { serve } });
    await waitFor(() => running, { what: 'the replica to start', timeoutMs: 20_000 });
    expect(t.out.at(-1)).toMatch(/^chatd: listening on http:\/\/127\.0\.0\.1:\d+ \(replica [0-9a-f-]{36}, no worker\)$/);
    expect((await fetch(`${running!.url}/healthz`)).status).toBe(200);
    expect(running!.worker.enabled).toBe(false);
    stop('SIGTERM');
    expect(await exit).toBe(0);
    expect(t.out.slice(-2)).toEqual(['chatd: SIGTERM: shutting down', 'chatd: stopped']);
    await expect(fetch(`${running!.url}/healthz`)).rejects.toThrow();
  });

  it('refuses a bad port and a missing DATABASE_URL with exit code 2 and one line', async () => {
    const a = io({ DATABASE_URL: db.url });
    expect(await runCli(['serve', '--port', 'http'], a.io)).toBe(2);
    expect(a.err).toHaveLength(1);
    expect(a.err[0]).toContain('invalid port');
    const b = io({});
    expect(await runCli(['serve', '--port', '0'], b.io)).toBe(2);
    expect(b.err[0]).toContain('DATABASE_URL');
  });
});
