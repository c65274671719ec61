import { spawn } from 'node:child_process';
import { useTestDatabase } from '@chatd/testkit';
import { describe, expect, it } from 'vitest';
import { parseRelayAddress } from '../src/cli/relay-address.js';
import { BIN } from './helpers/replica-process.js';

// An empty database: `chatd-enterprise migrate` builds it.
const db = useTestDatabase();

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string[]; err: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', CHATD_LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out: out.split('\n').filter(Boolean), err: err.split('\n').filter(Boolean) }));
  });
}

describe('chatd-enterprise CLI', () => {
  it('migrate applies the OSS migrations first, then the replica registry, and is idempotent', async () => {
    const first = await run(['migrate', '--no-default-model'], { DATABASE_URL: db.url });
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    const applied = first.out[0]!.replace(/^migrations: applied /, '').split(', ');
    expect(applied.at(-1)).toBe('chatd-enterprise/0001_replicas.sql');
    expect(applied.slice(0, -1).every((m) => m.startsWith('chatd/'))).toBe(true);
    expect(applied.length).toBeGreaterThan(1);
    const again = await run(['migrate', '--no-default-model'], { DATABASE_URL: db.url });
    expect(again).toMatchObject({ code: 0, out: ['migrations: up to date'] });
  });

  it('refuses a relay address that is not an http(s) URL with exit code 2 and one line', async () => {
    const res = await run(['serve', '--port', '0', '--no-worker', '--relay-address', 'ftp://peer:21'], { DATABASE_URL: db.url });
    expect(res.code).toBe(2);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toContain('invalid relay address "ftp://peer:21"');
  });

  it('lists serve, migrate and the OSS token command under its own name', async () => {
    const res = await run(['help']);
    expect(res.code).toBe(0);
    expect(res.out[0]).toBe('usage: chatd-enterprise <command> [flags]');
    expect(res.out.join('\n')).toMatch(/serve .*relays live parts between replicas/);
    expect(res.out.join('\n')).toMatch(/migrate .*replica registry/);
    expect(res.out.join('\n')).toMatch(/token /);
  });
});

describe('parseRelayAddress', () => {
  it('keeps http(s) addresses without a trailing slash and rejects anything else', () => {
    expect(parseRelayAddress('http://10.0.0.5:7401/')).toBe('http://10.0.0.5:7401');
    expect(parseRelayAddress('https://replica-b.internal/chatd')).toBe('https://replica-b.internal/chatd');
    for (const bad of ['10.0.0.5:7401', 'ws://peer:1', 'http://u:p@peer:1', 'http://peer:1/?x=1', 'not a url']) {
      expect(() => parseRelayAddress(bad), bad).toThrow(/invalid relay address/);
    }
  });
});
