#!/usr/bin/env node
// The `chatd` executable: starts tracing when OTEL_EXPORTER_OTLP_ENDPOINT asks for it (tracing-sdk.ts), hands
// argv to runCli, flushes spans and exits with its code. Nothing else lives here.
import { runCli } from '../cli/run-cli.js';
import { startTracingFromEnv } from '../telemetry/tracing-sdk.js';

const err = (line: string) => process.stderr.write(`${line}\n`);
const stopTracing = await startTracingFromEnv(process.env, { serviceName: 'chatd', warn: err });
const code = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err,
});
await stopTracing?.().catch(() => {});
process.exitCode = code;
