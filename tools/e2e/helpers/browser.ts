// Debian's Chromium driven by playwright-core for the console's browser test: launch with the flags the
// CI needs, and a page recorder that keeps console errors, page errors, every requested URL (sockets
// included) and the stream events the page received, so a test can check them after the fact.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where Debian puts its Chromium (installed by ensure-chromium.mjs). */
export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Where screenshots go (gitignored). */
export const SCREENSHOT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

/** Launches headless Chromium, or throws saying plainly that there is no browser. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) throw new Error(`NO BROWSER: ${CHROMIUM_PATH} is missing; run \`apt-get install -y chromium\` (as root) or \`npm run test:e2e\`, which does it.`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A stream event as the page received it (only the fields the test reads). */
export type SeenEvent = { type: string; status?: { status: string }; message_part?: { seq: number; run_id: string; part: { type: string; text?: string } }; message?: { id: number; role: string } };

/** What a page did, recorded from the start. */
export type PageRecord = {
  consoleErrors: string[];
  urls: string[];
  /** Stream events per chat id, in arrival order. */
  events: Map<string, SeenEvent[]>;
  /** Statuses a chat's stream delivered, consecutive repeats folded. */
  statuses(chatId: string): string[];
};

/** Records console errors and warnings, page errors, requests, sockets and stream frames of `page`. */
export function recordPage(page: Page): PageRecord {
  const record: PageRecord = {
    consoleErrors: [],
    urls: [],
    events: new Map(),
    statuses(chatId) {
      const out: string[] = [];
      for (const e of record.events.get(chatId) ?? []) if (e.type === 'status' && e.status && out.at(-1) !== e.status.status) out.push(e.status.status);
      return out;
    },
  };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') record.consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (err) => record.consoleErrors.push(`pageerror: ${err.message}`));
  page.on('request', (r) => record.urls.push(r.url()));
  page.on('websocket', (ws) => {
    record.urls.push(ws.url());
    const m = /\/chats\/([0-9a-f-]{36})\/stream/.exec(ws.url());
    if (!m) return;
    const chatId = m[1]!;
    ws.on('framereceived', ({ payload }) => {
      try {
        const batch = JSON.parse(String(payload)) as SeenEvent[];
        if (Array.isArray(batch)) record.events.set(chatId, [...(record.events.get(chatId) ?? []), ...batch]);
      } catch {
        // Not a stream frame.
      }
    });
  });
  return record;
}
