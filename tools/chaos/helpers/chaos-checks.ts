// Assertions shared by the chaos scenarios: a chat's followers saw every durable message exactly once and
// nothing twice, the chat rests, and each surviving process gave back the handles and memory the fault took.
// Also the recovery-time log that the suite prints and writes to RELIABILITY.md.
import { waitFor } from '@chatd/testkit';
import { expect } from 'vitest';
import type { Replica } from './chaos-cluster.js';
import { describeDescriptors, processStats, type ProcessStats } from './process-stats.js';
import type { FollowResult } from './stream-follower.js';

/** Memory after a scenario may exceed memory before by this fraction at most. */
export const RSS_TOLERANCE = 0.2;

type Message = { id: number | string; role: string };

/** Every visible message of a chat (oldest first), through the REST API. */
export async function history(baseUrl: string, token: string, chatId: string): Promise<{ messages: Message[]; status: string }> {
  const headers = { 'Coder-Session-Token': token };
  const api = `${baseUrl}/api/experimental/chats/${chatId}`;
  const chat = (await (await fetch(api, { headers })).json()) as { status: string };
  const page = (await (await fetch(`${api}/messages?limit=200`, { headers })).json()) as { messages: Message[] };
  return { messages: [...page.messages].reverse(), status: chat.status };
}

/** Late parts seen by any follower (`who: run#seq`), for the report (expectExactlyOnce fails on any). */
export const latePartsSeen: string[] = [];

/** The follower saw each durable message of the chat once, in order, and no violation. */
export async function expectExactlyOnce(baseUrl: string, token: string, chatId: string, seen: FollowResult, who: string): Promise<void> {
  latePartsSeen.push(...seen.lateParts.map((p) => `${who}: ${p}`));
  const h = await history(baseUrl, token, chatId);
  expect(seen.violations, `${who}: violations`).toEqual([]);
  expect(seen.lateParts, `${who}: relayed parts after their run's message`).toEqual([]);
  expect(seen.messageIds, `${who}: messages of ${chatId}`).toEqual(h.messages.map((m) => String(m.id)));
  expect(['waiting', 'error'], `${who}: final status`).toContain(h.status);
}

/** Idle stats of every replica in `replicas`. */
export function statsOf(replicas: Replica[]): Map<Replica, ProcessStats> {
  return new Map(replicas.map((r) => [r, processStats(r.pid)]));
}

/**
 * Waits until each replica's open descriptors are back to at most their count before the fault (idle pool
 * connections close on their own timeout), then checks its memory grew by RSS_TOLERANCE at most, plus
 * `slackKiB` for a scenario whose transient working set is large next to that (RSS rarely shrinks after it).
 */
export async function expectResourcesBack(before: Map<Replica, ProcessStats>, what: string, slackKiB = 0): Promise<string[]> {
  const lines: string[] = [];
  for (const [replica, b] of before) {
    const t0 = Date.now();
    const after = await waitFor(
      () => {
        const now = processStats(replica.pid);
        return now.fds <= b.fds ? now : undefined;
      },
      { what: `${what}: ${replica.name}'s open descriptors back to ${b.fds} (now ${processStats(replica.pid).fds})`, timeoutMs: 45_000, intervalMs: 200 },
    ).catch((err: unknown) => {
      // Name what is still open, so a leak can be told from a slow pool or a lingering relay socket.
      throw new Error(`${err instanceof Error ? err.message : String(err)}; open now: ${describeDescriptors(replica.pid).join('; ')}`, { cause: err });
    });
    const ratio = after.rssKiB / b.rssKiB;
    lines.push(`${replica.name}: fds ${b.fds} -> ${after.fds} (after ${Date.now() - t0} ms), rss ${(b.rssKiB / 1024).toFixed(1)} -> ${(after.rssKiB / 1024).toFixed(1)} MiB`);
    // Growth is what a leak looks like; a heap that shrank after a GC is fine.
    expect(ratio - 1, `${what}: ${replica.name} RSS ${b.rssKiB} KiB before, ${after.rssKiB} KiB after (slack ${slackKiB} KiB)`).toBeLessThanOrEqual(RSS_TOLERANCE + slackKiB / b.rssKiB);
  }
  return lines;
}

/** Every replica process is still running (nothing crashed). */
export function expectAlive(replicas: Replica[]): void {
  for (const r of replicas) expect({ name: r.name, exitCode: r.child.exitCode, signal: r.child.signalCode }, r.output().slice(-2000)).toEqual({ name: r.name, exitCode: null, signal: null });
}

/** Milliseconds from `t0` to the first progress time after it, or undefined. */
export function firstProgressAfter(times: number[], t0: number): number | undefined {
  const t = times.find((x) => x > t0);
  return t === undefined ? undefined : t - t0;
}

/** Milliseconds from `t0` to the first part of a run other than `oldRun` (or a message) after it. */
export function firstNewRunAfter(arrivals: { run: string | undefined; t: number }[], t0: number, oldRun: string | undefined): number | undefined {
  const a = arrivals.find((x) => x.t > t0 && x.run !== oldRun);
  return a === undefined ? undefined : a.t - t0;
}

/** One measured recovery. */
export type Recovery = { scenario: string; fault: string; recoveryMs: number; measure: string; notes: string };
