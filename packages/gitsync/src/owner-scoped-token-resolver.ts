// Keeps a deployment-wide token (e.g. GITHUB_TOKEN) from acting for anyone who asks: the wrapped resolver is
// consulted only for repositories whose owner is on an allow-list; every other origin gets PUBLIC_ACCESS, so
// its requests go out unauthenticated and a private repository looks missing, as it would to an outside user.
// It does not decide who may report a push; that is the server's job.
import type { ProviderResolver } from './provider.js';
import { PUBLIC_ACCESS, type TokenResolver } from './token-resolver.js';

/** Options for `createOwnerScopedTokenResolver`. */
export type OwnerScopedTokenResolverOptions = {
  /** The resolver holding the privileged token. */
  tokens: TokenResolver;
  /** Repository owners (GitHub users/organizations, GitLab groups) the token may be used for; matched case-insensitively. */
  owners: readonly string[];
  /** Parses origins into owner and repo (the same resolver the refresher uses). */
  providers: ProviderResolver;
};

/** Splits a comma-separated owner list (`CHATD_GITSYNC_OWNERS`): trimmed, lower-cased, empty entries dropped. */
export function parseOwnerList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/** A resolver that defers to `tokens` only for listed owners (a GitLab subgroup counts as its listed parent). */
export function createOwnerScopedTokenResolver(options: OwnerScopedTokenResolverOptions): TokenResolver {
  const owners = new Set(options.owners.map((o) => o.trim().toLowerCase()).filter((o) => o !== ''));
  const listed = (owner: string): boolean => {
    const parts = owner.toLowerCase().split('/');
    return parts.some((_, i) => owners.has(parts.slice(0, i + 1).join('/')));
  };
  return (ownerId, origin, callOptions) => {
    if (owners.size === 0) return PUBLIC_ACCESS;
    let parsed;
    try {
      parsed = options.providers(origin)?.parseRepositoryOrigin(origin) ?? null;
    } catch {
      parsed = null;
    }
    return parsed && listed(parsed.owner) ? options.tokens(ownerId, origin, callOptions) : PUBLIC_ACCESS;
  };
}
