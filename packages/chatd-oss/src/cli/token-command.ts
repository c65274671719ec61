// `chatd token create|list|revoke`: API tokens for users of the default organization. `create` makes the
// user when needed and prints the token alone on the last line of stdout (the only time it is shown). `revoke`
// writes the database directly and NOTIFYs `chat:token_revoked` in the same transaction (the identity store does,
// having no pubsub here), so every running replica closes the token's sockets at once.
import { createRealClock } from '@chatd/clock';
import { isUuid } from '@chatd/protocol';
import { requireDatabaseUrl } from '../config.js';
import { createIdentityStore, type IdentityStore } from '../identity/identity-store.js';
import { createPool } from '../store/db.js';
import { UsageError, parseCommandArgs, type CliCommand, type CliIo } from './cli-args.js';

const USAGE = 'token create --user NAME [--admin] [--name LABEL] | token list --user NAME | token revoke ID  [--database-url URL]';

async function withIdentity<T>(io: CliIo, databaseUrl: string | undefined, fn: (identity: IdentityStore) => Promise<T>): Promise<T> {
  const pool = createPool(requireDatabaseUrl(io.env, databaseUrl), 2);
  try {
    return await fn(createIdentityStore({ pool, clock: createRealClock() }));
  } finally {
    await pool.end();
  }
}

/** `chatd token ...` */
export const tokenCommand: CliCommand = {
  summary: 'create, list and revoke API tokens',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      user: { type: 'string' },
      admin: { type: 'boolean' },
      name: { type: 'string' },
      'database-url': { type: 'string' },
    });
    const [sub, ...extra] = positionals;
    const databaseUrl = values['database-url'] as string | undefined;
    const user = values.user as string | undefined;
    switch (sub) {
      case 'create': {
        if (!user) throw new UsageError('--user is required');
        if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
        return withIdentity(io, databaseUrl, async (identity) => {
          const { user: u, created } = await identity.ensureUser({ username: user, admin: values.admin === true });
          const { token, info } = await identity.createToken(u.id, (values.name as string | undefined) ?? '');
          io.out(`${created ? 'created user' : 'user'} ${u.username} (${u.id})${u.admin ? ' admin' : ''}`);
          io.out(`token id ${info.id}`);
          io.out(token);
          return 0;
        });
      }
      case 'list': {
        if (!user) throw new UsageError('--user is required');
        if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
        return withIdentity(io, databaseUrl, async (identity) => {
          const u = await identity.getUserByUsername(user);
          if (!u) {
            io.err(`chatd token list: no user named "${user}"`);
            return 1;
          }
          const tokens = await identity.listTokens(u.id);
          io.out(['ID', 'NAME', 'CREATED', 'LAST USED', 'REVOKED'].join('\t'));
          for (const t of tokens) io.out([t.id, t.name || '-', t.createdAt, t.lastUsedAt ?? '-', t.revokedAt ?? '-'].join('\t'));
          return 0;
        });
      }
      case 'revoke': {
        const [id, ...more] = extra;
        if (id === undefined) throw new UsageError('a token ID is required');
        if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}"`);
        if (!isUuid(id)) throw new UsageError(`"${id}" is not a token ID`);
        return withIdentity(io, databaseUrl, async (identity) => {
          if (!(await identity.revokeToken(id))) {
            io.err(`chatd token revoke: no active token ${id}`);
            return 1;
          }
          io.out(`revoked ${id}`);
          return 0;
        });
      }
      case undefined:
        throw new UsageError('a subcommand is required (create, list, revoke)');
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  },
};
