// Picks the provider for a remote origin: the first configured provider whose host parses it. Also the
// factory from a provider type name ('github', 'gitlab') to a provider; unknown types give null rather than an error,
// so callers can skip external-auth configs that have no provider implementation.
import type { Clock } from '@chatd/clock';
import type { EtagCache } from './etag-cache.js';
import { createGitHubProvider } from './github-provider.js';
import { createGitLabProvider } from './gitlab-provider.js';
import type { Provider, ProviderResolver } from './provider.js';

/** A resolver that returns the first of `providers` able to parse the origin, or null. */
export function createProviderResolver(providers: readonly Provider[]): ProviderResolver {
  return (origin) => providers.find((p) => p.parseRepositoryOrigin(origin) !== null) ?? null;
}

/** Options for `createProvider`. */
export type CreateProviderOptions = {
  clock: Clock;
  /** API base URL; empty or undefined uses the provider's public default. */
  apiBaseUrl?: string;
  fetch?: typeof fetch;
  etagCache?: EtagCache | false;
};

/** The provider for a type name, or null when the type has no implementation. */
export function createProvider(type: string, options: CreateProviderOptions): Provider | null {
  switch (type.trim().toLowerCase()) {
    case 'github':
      return createGitHubProvider({ ...options, apiBaseUrl: options.apiBaseUrl || undefined });
    case 'gitlab':
      return createGitLabProvider({ clock: options.clock, fetch: options.fetch, etagCache: options.etagCache, baseUrl: options.apiBaseUrl || undefined });
    default:
      return null;
  }
}
