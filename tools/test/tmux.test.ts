// The terminal client in a real terminal (issue 14): tmux runs `chatd chat` and `chatd watch` against a
// cluster started by `npm start`'s launcher; capture-pane shows the reply arriving token by token, and
// a watcher whose connection is cut resumes without printing any text twice.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createChatClient } from '@chatd/client';
import { createTcpProxy, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startCluster, type Cluster } from './helpers/cluster.js';

function ensureTmux(): void {
  if (spawnSync('tmux', ['-V']).status === 0) return;
  // Debian's package, as CI installs it; a clear failure when even that is impossible.
  spawnSync('apt-get', ['install', '-y', '-qq', 'tmux'], { stdio: 'ignore' });
  if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is not installed and `apt-get install tmux` failed: install tmux to run this test');
}

const session = `chatd-test-${process.pid}`;
const chatdBin = path.join(repoRoot, 'packages', 'chatd-oss', 'dist', 'bin', 'chatd.js');
let cluster: Cluster;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const capture = (pane: string) => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', `${session}:${pane}`);

beforeAll(async () => {
  ensureTmux();
  // A slow demo model, so the watcher joins mid-reply.
  cluster = await startCluster(2, { CHATD_DEMO_TOKENS_PER_SECOND: '25', CHATD_DEMO_REPLY_TOKENS: '80' });
  const cwd = path.dirname(cluster.stateDir);
  tmux('new-session', '-d', '-s', session, '-x', '220', '-y', '60', '-c', cwd, '-n', 'chat');
  tmux('new-window', '-t', session, '-n', 'watch', '-c', cwd);
}, 180_000);
afterAll(async () => {
  spawnSync('tmux', ['kill-session', '-t', session]);
  await cluster?.stop();
});

const finalReply = async (chatId: string) => {
  const c = cluster.read();
  const page = await createChatClient({ baseUrl: c.replicas[0]!.url, token: c.token }).messages(chatId);
  return (page.messages.find((m) => m.role === 'assistant')?.content ?? []).map((p) => p.text ?? '').join('');
};

describe('chatd in a terminal (tmux)', () => {
  it('`chatd chat` shows the reply token by token', async () => {
    tmux('send-keys', '-t', `${session}:chat`, `node ${chatdBin} chat "tell me a story" 2>&1; echo "EXIT""=$?"`, 'Enter');
    const snapshots: string[] = [];
    await waitFor(
      () => {
        const text = capture('chat');
        if (snapshots.at(-1) !== text) snapshots.push(text);
        return /EXIT=\d/.test(text);
      },
      { what: 'chatd chat to finish', timeoutMs: 60_000, intervalMs: 25 },
    );
    const last = snapshots.at(-1)!;
    expect(last).toContain('EXIT=0');
    const chatId = /chat ([0-9a-f-]{36})/.exec(last)![1]!;
    const reply = await finalReply(chatId);
    expect(last.replace(/\n/g, '')).toContain(reply.replace(/\n/g, ''));
    // Token by token: several captures show a growing, partial reply before the end.
    const partial = snapshots.filter((s) => !/EXIT=\d/.test(s) && s.includes(chatId));
    expect(partial.length).toBeGreaterThanOrEqual(3);
  });

  it('`chatd watch` resumes after its connection is cut, with no repeated text', async () => {
    const c = cluster.read();
    const proxy = await createTcpProxy({ port: Number(new URL(c.replicas[0]!.url).port) });
    const chat = await createChatClient({ baseUrl: c.replicas[0]!.url, token: c.token }).create('watch me stream');
    tmux('send-keys', '-t', `${session}:watch`, `node ${chatdBin} watch ${chat.id} --url http://127.0.0.1:${proxy.port}`, 'Enter');
    await waitFor(() => /\[running on replica/.test(capture('watch')), { what: 'the watcher to see the run', timeoutMs: 30_000, intervalMs: 25 });
    await waitFor(() => capture('watch').split('\n').some((l) => l.length > 0 && !l.startsWith('[') && !l.startsWith('>') && !l.includes('chatd.js') && !l.startsWith('watching')), { what: 'streamed text', timeoutMs: 30_000, intervalMs: 10 });
    proxy.cut();
    await waitFor(() => capture('watch').includes('[waiting]'), { what: 'the end of the reply after resuming', timeoutMs: 60_000, intervalMs: 50 });
    tmux('send-keys', '-t', `${session}:watch`, 'C-c', '');
    const screen = capture('watch');
    const reply = await finalReply(chat.id);
    const body = screen
      .split('\n')
      .filter((l) => l && !l.startsWith('[') && !l.startsWith('>') && !l.includes('chatd.js') && !l.startsWith('watching'))
      .join('')
      .replace(/\^C$/, '');
    expect(body.replace(/\s+/g, ' ').trim()).toBe(reply.replace(/\s+/g, ' ').trim());
    expect(screen).toContain('[reconnecting');
    await proxy.close();
  });
});
