import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startWsServer } from '../src/index.js';

describe('startWsServer', () => {
  it('listens on a free port, echoes through the handler, and close() ends clients', async () => {
    const server = await startWsServer((socket) => socket.on('message', (m) => socket.send(`echo:${m}`)));
    expect(server.port).toBeGreaterThan(0);
    const ws = new WebSocket(server.url);
    await new Promise((r) => ws.once('open', r));
    const reply = new Promise<string>((r) => ws.once('message', (m) => r(String(m))));
    ws.send('hi');
    expect(await reply).toBe('echo:hi');
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await server.close();
    expect(await closed).toBe(1006);
  });
});
