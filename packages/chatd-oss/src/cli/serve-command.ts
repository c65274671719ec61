// `chatd serve`: runs one replica (startChatdServer) until SIGTERM or SIGINT, then shuts down cleanly
// (contract.md#clean-shutdown: partial replies persisted, running chats handed back at once). The enterprise bin builds
// the same command with its multi-replica hook through `createServeCommand`.
import type { MigrationSource } from '../migrate.js';
import type { ExtraRoute } from '../server/create-chat-server.js';
import type { VerifyReplicaCredential } from '../server/replica-credential.js';
import { startChatdServer, type RunningChatd } from '../start-chatd-server.js';
import type { Chatd } from '../create-chatd.js';
import type { SubscribeFn } from '../subscribe-fn.js';
import { loadConfig, requireDatabaseUrl } from '../config.js';
import { UsageError, parseCommandArgs, type CliCommand, type FlagSpec } from './cli-args.js';
import { loadToolsModule } from '../tools/load-tools-module.js';

/** Environment variable naming a tools module, as `--tools` does (the flag wins). */
export const TOOLS_MODULE_ENV = 'CHATD_TOOLS_MODULE';

/** Port `chatd serve` listens on when neither --port nor PORT is set. @default 7401 */
export const DEFAULT_SERVE_PORT = 7401;

/** What a serve command adds on top of the OSS replica. */
export type ServeCommandOptions = {
  /** Extra flags, passed to `configure` with their values. */
  flags?: FlagSpec;
  /** Every migration source to apply, in order (CHATD_MIGRATION_SOURCE first); default the chat store's alone. */
  migrationSources?: readonly MigrationSource[];
  /** The multi-replica hook, built once the daemon exists. */
  subscribeFn?: (chatd: Chatd, ctx: ServeContext) => SubscribeFn | undefined;
  /** Extra routes. */
  extraRoutes?: (chatd: Chatd, ctx: ServeContext) => ExtraRoute[];
  /** Recognises relay legs by their replica credential (the enterprise registry). */
  verifyReplicaCredential?: (chatd: Chatd, ctx: ServeContext) => VerifyReplicaCredential | undefined;
  /** Runs after the replica listens (e.g. registering it); its result runs before shutdown. */
  afterStart?: (running: RunningChatd, ctx: ServeContext) => Promise<(() => Promise<void>) | void>;
  /** Resolves when the replica should stop. @default the first SIGTERM or SIGINT */
  stopSignal?: () => Promise<string>;
  /** Told the running replica (tests). */
  onStarted?: (running: RunningChatd) => void;
};

/** Flag values and the resolved listen address, for the hooks. */
export type ServeContext = { values: Record<string, string | boolean | undefined>; host: string; port: number; env: Record<string, string | undefined> };

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(sig);
    };
    const onTerm = () => on('SIGTERM');
    const onInt = () => on('SIGINT');
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onInt);
  });
}

/** Builds a `serve` command. */
export function createServeCommand(options: ServeCommandOptions = {}): CliCommand {
  return {
    summary: 'run a replica: the HTTP/WebSocket API and (unless --no-worker) the chat worker',
    usage: 'serve [--port N] [--host ADDR] [--no-worker] [--no-migrate] [--database-url URL] [--log-level LEVEL] [--tools MODULE]' + Object.keys(options.flags ?? {}).map((f) => ` [--${f}${options.flags![f]!.type === 'string' ? ' VALUE' : ''}]`).join(''),
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(args, {
        port: { type: 'string' },
        host: { type: 'string' },
        'no-worker': { type: 'boolean' },
        'no-migrate': { type: 'boolean' },
        'database-url': { type: 'string' },
        'log-level': { type: 'string' },
        tools: { type: 'string' },
        ...options.flags,
      });
      if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
      const portText = (values.port as string | undefined) ?? io.env.PORT ?? String(DEFAULT_SERVE_PORT);
      if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) throw new UsageError(`invalid port "${portText}"`);
      const port = Number(portText);
      const host = (values.host as string | undefined) ?? io.env.CHATD_HOST ?? '127.0.0.1';
      const databaseUrl = requireDatabaseUrl(io.env, values['database-url'] as string | undefined);
      const config = loadConfig(io.env, {
        databaseUrl,
        ...(values['no-worker'] ? { worker: false } : {}),
        ...(values['log-level'] ? { logLevel: values['log-level'] as string } : {}),
      });
      const ctx: ServeContext = { values, host, port, env: io.env };
      const toolsModule = (values.tools as string | undefined) ?? (io.env[TOOLS_MODULE_ENV]?.trim() || undefined);
      const tools = toolsModule === undefined ? [] : await loadToolsModule(toolsModule, { env: io.env });
      const running = await startChatdServer({
        port,
        host,
        config,
        env: io.env,
        ...(tools.length > 0 ? { tools } : {}),
        migrate: values['no-migrate'] ? false : options.migrationSources?.length ? { sources: options.migrationSources } : true,
        ...(options.subscribeFn ? { subscribeFn: (chatd: Chatd) => options.subscribeFn!(chatd, ctx) } : {}),
        ...(options.extraRoutes ? { extraRoutes: (chatd: Chatd) => options.extraRoutes!(chatd, ctx) } : {}),
        ...(options.verifyReplicaCredential ? { verifyReplicaCredential: (chatd: Chatd) => options.verifyReplicaCredential!(chatd, ctx) } : {}),
      });
      let beforeStop: (() => Promise<void>) | void;
      try {
        beforeStop = await options.afterStart?.(running, ctx);
      } catch (err) {
        await running.close();
        throw err;
      }
      io.out(`chatd: listening on ${running.url} (replica ${running.replicaId}${running.worker.enabled ? '' : ', no worker'})`);
      options.onStarted?.(running);
      const signal = await (options.stopSignal ?? waitForSignal)();
      io.out(`chatd: ${signal}: shutting down`);
      await beforeStop?.();
      await running.close();
      io.out('chatd: stopped');
      return 0;
    },
  };
}

/** The OSS `chatd serve`. */
export const serveCommand: CliCommand = createServeCommand();
