#!/usr/bin/env node
// The `chatd-enterprise` executable: starts tracing when OTEL_EXPORTER_OTLP_ENDPOINT asks for it (the SDK is an
// optional dependency of this package, resolved from here), hands argv to runEnterpriseCli, flushes spans and
// exits with its code. Nothing else lives here.
import { startTracingFromEnv, type TracingSdkModules } from '@chatd/oss';
import { runEnterpriseCli } from '../cli/run-enterprise-cli.js';

// Specifiers in variables: resolved from this package, and only when tracing is on.
const SDK_NODE = '@opentelemetry/sdk-node';
const OTLP_HTTP = '@opentelemetry/exporter-trace-otlp-http';

const err = (line: string) => process.stderr.write(`${line}\n`);
const stopTracing = await startTracingFromEnv(process.env, {
  serviceName: 'chatd-enterprise',
  warn: err,
  async load() {
    const [sdk, otlp] = (await Promise.all([import(SDK_NODE), import(OTLP_HTTP)])) as [Record<string, unknown>, Record<string, unknown>];
    return { NodeSDK: sdk.NodeSDK as TracingSdkModules['NodeSDK'], OTLPTraceExporter: otlp.OTLPTraceExporter as TracingSdkModules['OTLPTraceExporter'] };
  },
});
const code = await runEnterpriseCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err,
});
await stopTracing?.().catch(() => {});
process.exitCode = code;
