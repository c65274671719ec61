// GitHub and GitHub Enterprise URL rules (contract.md#github, contract.md#git-providers): API and web bases, remote-origin parsing
// (https, ssh:// and scp-like git@host:owner/repo), pull request URL parsing, and web URL building.
// Everything here is pure string work; a provider only accepts URLs on its own web host.

/** The public GitHub API. */
export const GITHUB_API_BASE_URL = 'https://api.github.com';
/** The public GitHub web host. */
export const GITHUB_WEB_BASE_URL = 'https://github.com';

/** URL helpers bound to one GitHub installation. */
export type GitHubUrls = {
  /** API base without a trailing '/', e.g. `https://ghes.corp.com/api/v3`. */
  apiBaseUrl: string;
  /** Web base without a trailing '/', e.g. `https://ghes.corp.com`. */
  webBaseUrl: string;
  parseRepositoryOrigin(raw: string): { owner: string; repo: string; normalizedUrl: string } | null;
  parsePullRequestUrl(raw: string): { owner: string; repo: string; number: number } | null;
  normalizePullRequestUrl(raw: string): string;
  buildBranchUrl(owner: string, repo: string, branch: string): string;
  buildRepositoryUrl(owner: string, repo: string): string;
  buildPullRequestUrl(ref: { owner: string; repo: string; number: number }): string;
};

const trimSlashes = (s: string): string => s.replace(/\/+$/, '');
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Path-escapes one segment like Go's url.PathEscape (keeps `$&+:=@`, escapes '/' and spaces). */
export function escapePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(24|26|2B|3A|3D|40)/gi, (m) => decodeURIComponent(m));
}

/** Escapes each '/'-separated part of a path and keeps the slashes: `feat/my thing` -> `feat/my%20thing`. */
export function escapePathPreserveSlashes(path: string): string {
  return path.split('/').map(escapePathSegment).join('/');
}

/** Web base for an API base: api.github.com -> https://github.com, otherwise the API base minus `/api/v3`. */
export function gitHubWebBaseUrl(apiBaseUrl: string): string {
  const api = trimSlashes(apiBaseUrl);
  let parsed: URL | undefined;
  try {
    parsed = new URL(api);
  } catch {
    parsed = undefined;
  }
  if (parsed && parsed.hostname.toLowerCase() === 'api.github.com') return GITHUB_WEB_BASE_URL;
  return trimSlashes(api.replace(/\/api\/v3\/?$/i, ''));
}

// Owner and repo segments GitHub allows; no nesting. `.` and `..` match it but are refused after matching
// (isDotSegment): in an API URL they would be resolved away and reach another path.
const SEGMENT = '[A-Za-z0-9_.-]+';

/** True for `.` and `..`, which URL resolution removes from a path (and so must never be an owner or repo). */
export function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/** URL helpers for the installation at `apiBaseUrl` (default the public API); `webBaseUrl` overrides the derived web base. */
export function createGitHubUrls(apiBaseUrl: string = GITHUB_API_BASE_URL, webBaseUrl?: string): GitHubUrls {
  const api = trimSlashes(apiBaseUrl || GITHUB_API_BASE_URL);
  const web = trimSlashes(webBaseUrl ?? gitHubWebBaseUrl(api));
  const webUrl = new URL(web);
  // Host includes the port, if any; matching is case-insensitive like DNS.
  const host = escapeRegExp(webUrl.host);
  const scheme = escapeRegExp(webUrl.protocol);
  const httpsOrigin = new RegExp(`^${scheme}//${host}/(${SEGMENT})/(${SEGMENT}?)(?:\\.git)?/?$`, 'i');
  // ssh://git@host/owner/repo or the scp-like git@host:owner/repo; the user must be git.
  const sshHost = escapeRegExp(webUrl.hostname);
  const sshOrigin = new RegExp(`^(?:ssh://)?git@${sshHost}[:/](${SEGMENT})/(${SEGMENT}?)(?:\\.git)?/?$`, 'i');
  const pullUrl = new RegExp(`^${scheme}//${host}/(${SEGMENT})/(${SEGMENT})/pull/(\\d+)(?:[/?#].*)?$`, 'i');

  const buildRepositoryUrl = (owner: string, repo: string): string => {
    const o = owner.trim();
    const r = repo.trim();
    return o && r ? `${web}/${escapePathSegment(o)}/${escapePathSegment(r)}` : '';
  };

  const parsePullRequestUrl = (raw: string) => {
    const m = pullUrl.exec(raw.trim());
    if (!m || isDotSegment(m[1]!) || isDotSegment(m[2]!)) return null;
    const number = Number(m[3]);
    if (!Number.isSafeInteger(number) || number <= 0) return null;
    return { owner: m[1]!, repo: m[2]!, number };
  };

  const buildPullRequestUrl = (ref: { owner: string; repo: string; number: number }): string => {
    const base = buildRepositoryUrl(ref.owner, ref.repo);
    return base && Number.isSafeInteger(ref.number) && ref.number > 0 ? `${base}/pull/${ref.number}` : '';
  };

  return {
    apiBaseUrl: api,
    webBaseUrl: web,
    parseRepositoryOrigin(raw) {
      const input = raw.trim();
      if (input === '') return null;
      const m = httpsOrigin.exec(input) ?? sshOrigin.exec(input);
      if (!m) return null;
      const owner = m[1]!;
      const repo = m[2]!;
      if (repo === '' || repo.toLowerCase() === '.git' || isDotSegment(owner) || isDotSegment(repo)) return null;
      return { owner, repo, normalizedUrl: buildRepositoryUrl(owner, repo) };
    },
    parsePullRequestUrl,
    normalizePullRequestUrl(raw) {
      // Links pasted in prose often carry trailing punctuation: "(see https://.../pull/12)."
      const ref = parsePullRequestUrl(raw.trim().replace(/[),.;]+$/, ''));
      return ref ? buildPullRequestUrl(ref) : '';
    },
    buildBranchUrl(owner, repo, branch) {
      const base = buildRepositoryUrl(owner, repo);
      const b = branch.trim();
      return base && b ? `${base}/tree/${escapePathPreserveSlashes(b)}` : '';
    },
    buildRepositoryUrl,
    buildPullRequestUrl,
  };
}
