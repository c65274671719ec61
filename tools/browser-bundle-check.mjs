// The browser-safety check of @chatd/client (issue 24): bundles an entry with esbuild for the browser
// (`--platform=browser`, so the `browser` export conditions apply) and reports every Node built-in it would pull
// in (esbuild cannot resolve one for the browser: the build fails naming it) and any module of the `ws` package
// (whose browser stub bundles, but only throws). Used by tools/check-packages.mjs; tools/test/browser-bundle.test.ts
// shows it failing on a planted `node:` import.
import * as esbuild from 'esbuild';

/** Problems of bundling `entry` for the browser (empty when it is browser-safe). `nodePaths`: extra module folders. */
export async function browserBundleProblems(entry, { label = entry, nodePaths = [] } = {}) {
  let result;
  try {
    result = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', nodePaths });
  } catch (err) {
    const errors = err?.errors?.length ? err.errors : [{ text: String(err?.message ?? err) }];
    return errors.map((e) => `${label}: not browser-safe: ${e.text}${e.location ? ` (${e.location.file}:${e.location.line})` : ''}`);
  }
  const problems = [];
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    if (/(^|[/\\])node_modules[/\\]ws[/\\]/.test(file)) problems.push(`${label}: the browser bundle includes the ws package (${file})`);
    for (const imp of input.imports) if (imp.external) problems.push(`${label}: the browser bundle leaves ${imp.path} to be loaded (${file})`);
  }
  return [...new Set(problems)];
}
