// The TokenResolver port (seed 003) and a default implementation that reads a token from an injected
// environment object. Real deployments resolve per-user external-auth links instead; that lookup
// belongs to the server, not to this package.

/**
 * What a resolver returns to call the provider without credentials: public repositories only, as any
 * outside user would see them (a private one then looks missing). Distinct from null, which means "no token".
 */
export const PUBLIC_ACCESS: unique symbol = Symbol.for('@chatd/gitsync/public-access');

/** Per-call options of a token resolver. */
export type TokenResolverOptions = { signal?: AbortSignal };

/** A token, `PUBLIC_ACCESS` (call unauthenticated), or null / '' (no token). */
export type TokenResult = string | typeof PUBLIC_ACCESS | null;

/**
 * Obtains the owner's git access token for a remote origin. Null or '' means no token (the refresher turns it into
 * `ErrNoTokenAvailable`); `PUBLIC_ACCESS` means call without credentials; it may also reject, with an error that
 * wraps `ErrNoTokenAvailable` when nothing was found.
 */
export type TokenResolver = (ownerId: string, origin: string, options?: TokenResolverOptions) => Promise<TokenResult> | TokenResult;

/** Default variable read by `createEnvTokenResolver`. */
export const DEFAULT_TOKEN_VARIABLE = 'GITHUB_TOKEN';

/** Options for `createEnvTokenResolver`. */
export type EnvTokenResolverOptions = {
  /** The environment to read, e.g. `process.env`; injected so tests never touch the real one. */
  env: Readonly<Record<string, string | undefined>>;
  /** Variable holding the token for an origin. @default () => DEFAULT_TOKEN_VARIABLE */
  variableFor?: (origin: string) => string;
};

/** A resolver returning the same trimmed token (default `GITHUB_TOKEN`) for every owner, or null when unset. */
export function createEnvTokenResolver(options: EnvTokenResolverOptions): TokenResolver {
  const variableFor = options.variableFor ?? (() => DEFAULT_TOKEN_VARIABLE);
  return (_ownerId, origin) => {
    const token = options.env[variableFor(origin)]?.trim();
    return token ? token : null;
  };
}
