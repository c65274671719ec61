// Shared by the chatd-oss benchmarks (fanout, resume, idle-memory): loading the built @chatd/oss and
// replacing one benchmark's section of tools/bench/results/chatd-oss.md.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The built @chatd/oss (run `npm run build` first), or the build BENCH_CHATD_OSS names (lib/base-build.mjs). */
export async function loadChatd() {
  const oss = await import(process.env.BENCH_CHATD_OSS ?? '@chatd/oss');
  if (typeof oss.startChatdServer !== 'function') throw new Error('@chatd/oss is not built: run `npm run build` first');
  return oss;
}

/** Replaces this bench's section of tools/bench/results/chatd-oss.md (sections are delimited by markers). */
export function writeSection(name, text) {
  const file = path.join(root, 'tools', 'bench', 'results', 'chatd-oss.md');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# chatd-oss benchmarks\n';
  const block = `${begin}\n${text}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, doc);
}
