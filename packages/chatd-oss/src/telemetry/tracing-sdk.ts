// Turns tracing on in a bin: when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, it
// loads the OpenTelemetry Node SDK and the OTLP/HTTP trace exporter (optional dependencies, imported only
// then) and starts them; otherwise it loads nothing and every span stays the API's no-op. The rest of the
// SDK's configuration is its own environment (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES...).
// Libraries never call this: embedders register their own SDK, and chatd's spans join it.

/** Environment variables whose presence turns tracing on in the bins. */
export const TRACING_ENDPOINT_ENV = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const;

/** The service name the bins report when OTEL_SERVICE_NAME is unset. @default 'chatd' */
export const DEFAULT_TRACING_SERVICE_NAME = 'chatd';

/** The parts of the SDK modules this file uses (their packages are optional, so no static types). */
export type TracingSdkModules = {
  NodeSDK: new (config: Record<string, unknown>) => { start(): void; shutdown(): Promise<void> };
  OTLPTraceExporter: new () => unknown;
};

/** Loads the SDK modules; the bins pass one that resolves them from their own package. */
export type LoadTracingSdk = () => Promise<TracingSdkModules>;

// Specifiers in variables: bundlers leave these imports alone, and nothing is resolved unless tracing is on.
const SDK_NODE = '@opentelemetry/sdk-node';
const OTLP_HTTP = '@opentelemetry/exporter-trace-otlp-http';

/** Loads the SDK from this package's dependencies. */
export const loadTracingSdk: LoadTracingSdk = async () => {
  const [sdk, otlp] = (await Promise.all([import(SDK_NODE), import(OTLP_HTTP)])) as [Record<string, unknown>, Record<string, unknown>];
  return { NodeSDK: sdk.NodeSDK as TracingSdkModules['NodeSDK'], OTLPTraceExporter: otlp.OTLPTraceExporter as TracingSdkModules['OTLPTraceExporter'] };
};

/** Options of `startTracingFromEnv`. */
export type StartTracingOptions = {
  /** @default loadTracingSdk */
  load?: LoadTracingSdk;
  /** Used when OTEL_SERVICE_NAME is unset. @default DEFAULT_TRACING_SERVICE_NAME */
  serviceName?: string;
  /** Told why tracing could not start (the process goes on without it). */
  warn?: (line: string) => void;
};

/** Starts the SDK when the environment asks for it; resolves with its shutdown (flushes spans), or undefined. */
export async function startTracingFromEnv(env: Record<string, string | undefined>, options: StartTracingOptions = {}): Promise<(() => Promise<void>) | undefined> {
  if (!TRACING_ENDPOINT_ENV.some((name) => (env[name] ?? '').trim() !== '')) return undefined;
  let mods: TracingSdkModules;
  try {
    mods = await (options.load ?? loadTracingSdk)();
  } catch (err) {
    options.warn?.(`chatd: tracing is off: the OpenTelemetry SDK could not be loaded (${err instanceof Error ? err.message : String(err)})`);
    return undefined;
  }
  const sdk = new mods.NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || (options.serviceName ?? DEFAULT_TRACING_SERVICE_NAME),
    traceExporter: new mods.OTLPTraceExporter(),
    // chatd's own spans only: no auto-instrumentation of http, pg or ws.
    instrumentations: [],
  });
  sdk.start();
  return () => sdk.shutdown();
}
