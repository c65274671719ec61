// The web console's static files (issue 15): finds the package's `console/` folder beside the code that
// runs (src/ under tests, dist/ or dist/bin/ when built, an installed package), reads its files once and
// serves them with their content types. It does not build anything: the files are plain HTML, CSS and JS, and
// the page's client is @chatd/client's prebuilt browser bundle, found through the package that is installed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Content type per served extension; any other file in the folder is not served. */
export const CONSOLE_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Name the page loads @chatd/client's browser bundle by (`/console/chatd-client.js`). */
export const CLIENT_BUNDLE_NAME = 'chatd-client.js';

/** Folders above this module searched for `console/index.html`. @default 4 */
const SEARCH_DEPTH = 4;

/** One served file. */
export type ConsoleAsset = { body: Buffer; contentType: string; etag: string };

/** The folder holding the console's files, or undefined when it cannot be found. */
export function findConsoleDir(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (let i = 0; i <= SEARCH_DEPTH; i++) {
    const candidate = path.join(dir, 'console');
    if (fs.existsSync(path.join(candidate, 'index.html')) && fs.existsSync(path.join(candidate, 'console.js'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** The path of @chatd/client's browser bundle (`dist/browser/chatd-client.js`), or undefined when it is not built. */
export function findClientBundle(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@chatd/client/package.json');
    const file = path.join(path.dirname(pkg), 'dist', 'browser', CLIENT_BUNDLE_NAME);
    return fs.existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Reads one file as a served asset of `contentType`. */
export function loadConsoleAsset(file: string, contentType: string): ConsoleAsset {
  const body = fs.readFileSync(file);
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Reads every servable file of `dir` (not recursive), keyed by file name; empty when `dir` does not exist. */
export function loadConsoleAssets(dir: string): Map<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>();
  if (!fs.existsSync(dir)) return assets;
  for (const name of fs.readdirSync(dir)) {
    const contentType = CONSOLE_CONTENT_TYPES[path.extname(name)];
    if (!contentType || !/^[a-z0-9][a-z0-9.-]*$/.test(name)) continue;
    assets.set(name, loadConsoleAsset(path.join(dir, name), contentType));
  }
  return assets;
}
