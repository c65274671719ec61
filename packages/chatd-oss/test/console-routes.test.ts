// Unit tests of the console's route table (issue 15), with no database: the CSP never echoes an unsafe
// Host header, the cookie strings, the `replicas` feature flag, and a clear 503 when the files are missing.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearedSessionCookie, consoleCsp, createConsoleRoutes, sessionCookie } from '../src/console/console-routes.js';
import { findConsoleDir, loadConsoleAssets } from '../src/console/console-assets.js';
import type { ExtraRoute } from '../src/server/create-chat-server.js';

const identity = { verifyToken: async () => undefined, createSession: async () => Promise.reject(new Error('not used')), revokeSession: async () => false };
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Serves a route table the way the chat server does (exact method + path, else 404). */
async function serve(routes: ExtraRoute[]): Promise<string> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes.find((r) => r.method === req.method && r.path === url.pathname);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    route.handler(req, res, undefined).catch(() => res.writeHead(500).end());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('console routes', () => {
  it('the CSP names ws sources only for a plain Host header', () => {
    expect(consoleCsp('127.0.0.1:7401')).toContain("connect-src 'self' ws://127.0.0.1:7401 wss://127.0.0.1:7401;");
    expect(consoleCsp('[::1]:80')).toContain("connect-src 'self' ws://[::1]:80 wss://[::1]:80;");
    for (const bad of [undefined, '', 'evil; script-src *', 'a b', "x'y", 'host\r\nx: y']) {
      const csp = consoleCsp(bad);
      expect(csp, String(bad)).toContain("connect-src 'self';");
      expect(csp).not.toContain('*');
    }
    expect(consoleCsp('h')).not.toMatch(/unsafe/);
  });

  it('builds the session cookies, Secure over TLS', () => {
    expect(sessionCookie('chatd_a b', false)).toBe('coder_session_token=chatd_a%20b; Path=/; HttpOnly; SameSite=Strict');
    expect(sessionCookie('t', true)).toBe('coder_session_token=t; Path=/; HttpOnly; SameSite=Strict; Secure');
    expect(clearedSessionCookie(true)).toBe('coder_session_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure');
  });

  it('whoami tells the page whether the replica list exists', async () => {
    for (const replicasRoute of [true, false]) {
      const base = await serve(createConsoleRoutes({ identity, replicaId: 'r-1', replicasRoute }));
      const res = await fetch(`${base}/console/whoami`);
      expect(await res.json()).toEqual({ replica_id: 'r-1', user: null, features: { replicas: replicasRoute } });
    }
  });

  it('serves only html, js, css and svg files of the folder, and a 503 when the folder is missing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-assets-'));
    try {
      for (const f of ['index.html', 'console.js', 'notes.txt', 'Bad Name.js', 'x.map']) fs.writeFileSync(path.join(dir, f), f);
      expect([...loadConsoleAssets(dir).keys()].sort()).toEqual(['console.js', 'index.html']);
      expect(findConsoleDir(path.join(dir, 'a', 'b'))).toBeUndefined();
      const missing = await serve(createConsoleRoutes({ identity, replicaId: 'r', assetsDir: path.join(dir, 'nope') }));
      const res = await fetch(`${missing}/`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ message: 'The console is not available.' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
