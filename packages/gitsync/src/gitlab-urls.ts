// GitLab URL rules (contract.md#gitlab): base URL, remote-origin parsing (https or http on the web host, ssh://
// and scp-like git@host:group/sub/repo), merge request URL parsing and web URL building. Owners may hold
// subgroups ("group/sub"); the repo is the last path segment. Pure string work, no I/O.
import { escapePathPreserveSlashes } from './github-urls.js';

/** GitLab.com. */
export const GITLAB_BASE_URL = 'https://gitlab.com';

/** URL helpers bound to one GitLab installation. */
export type GitLabUrls = {
  /** Web base without a trailing '/', e.g. `https://gitlab.com`. */
  webBaseUrl: string;
  /** `<web base>/api/v4`. */
  apiBaseUrl: string;
  parseRepositoryOrigin(raw: string): { owner: string; repo: string; normalizedUrl: string } | null;
  parsePullRequestUrl(raw: string): { owner: string; repo: string; number: number } | null;
  normalizePullRequestUrl(raw: string): string;
  buildBranchUrl(owner: string, repo: string, branch: string): string;
  buildRepositoryUrl(owner: string, repo: string): string;
  buildPullRequestUrl(ref: { owner: string; repo: string; number: number }): string;
};

/** Splits `group/sub/repo` into owner `group/sub` and repo `repo`; null for one segment or an empty one. */
function splitProjectPath(path: string): { owner: string; repo: string } | null {
  let p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (p.toLowerCase().endsWith('.git')) p = p.slice(0, -4);
  p = p.replace(/\/+$/, '');
  const parts = p.split('/');
  if (parts.length < 2 || parts.some((s) => s === '' || s === '.' || s === '..')) return null;
  return { owner: parts.slice(0, -1).join('/'), repo: parts[parts.length - 1]! };
}

/** URL helpers for the GitLab at `baseUrl` (its web base; a trailing `/api/v4` is dropped). */
export function createGitLabUrls(baseUrl: string = GITLAB_BASE_URL): GitLabUrls {
  const web = (baseUrl || GITLAB_BASE_URL).replace(/\/+$/, '').replace(/\/api\/v4$/i, '').replace(/\/+$/, '');
  const webUrl = new URL(web);
  const webHost = webUrl.host.toLowerCase();
  const webHostname = webUrl.hostname.toLowerCase();

  const buildRepositoryUrl = (owner: string, repo: string): string => {
    const o = owner.trim();
    const r = repo.trim();
    // Not escaped: owners of subgroups contain slashes.
    return o && r ? `${web}/${o}/${r}` : '';
  };
  const buildPullRequestUrl = (ref: { owner: string; repo: string; number: number }): string => {
    const base = buildRepositoryUrl(ref.owner, ref.repo);
    return base && Number.isSafeInteger(ref.number) && ref.number > 0 ? `${base}/-/merge_requests/${ref.number}` : '';
  };

  const parseHttp = (input: string): URL | null => {
    let u: URL;
    try {
      u = new URL(input);
    } catch {
      return null;
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    if (u.host.toLowerCase() !== webHost || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') return null;
    return u;
  };

  const parsePullRequestUrl = (raw: string) => {
    const input = raw.trim();
    let u: URL;
    try {
      u = new URL(input);
    } catch {
      return null;
    }
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.host.toLowerCase() !== webHost) return null;
    const m = /^\/(.+?)\/-\/merge_requests\/(\d+)(?:\/.*)?$/.exec(u.pathname);
    if (!m) return null;
    const project = splitProjectPath(m[1]!);
    const number = Number(m[2]);
    if (!project || !Number.isSafeInteger(number) || number <= 0) return null;
    return { ...project, number };
  };

  return {
    webBaseUrl: web,
    apiBaseUrl: `${web}/api/v4`,
    parseRepositoryOrigin(raw) {
      const input = raw.trim();
      if (input === '') return null;
      let project: { owner: string; repo: string } | null = null;
      const ssh = /^ssh:\/\/git@([^/:]+)(?::\d+)?\/(.+)$/i.exec(input);
      const scp = /^git@([^/:]+):(.+)$/i.exec(input);
      if (ssh) project = ssh[1]!.toLowerCase() === webHostname ? splitProjectPath(ssh[2]!) : null;
      else if (scp) project = scp[1]!.toLowerCase() === webHostname ? splitProjectPath(scp[2]!) : null;
      else {
        const u = parseHttp(input);
        project = u ? splitProjectPath(decodeURIComponent(u.pathname)) : null;
      }
      return project ? { ...project, normalizedUrl: buildRepositoryUrl(project.owner, project.repo) } : null;
    },
    parsePullRequestUrl,
    normalizePullRequestUrl(raw) {
      const ref = parsePullRequestUrl(raw.trim().replace(/[),.;]+$/, ''));
      return ref ? buildPullRequestUrl(ref) : '';
    },
    buildBranchUrl(owner, repo, branch) {
      const base = buildRepositoryUrl(owner, repo);
      const b = branch.trim();
      return base && b ? `${base}/-/tree/${escapePathPreserveSlashes(b)}` : '';
    },
    buildRepositoryUrl,
    buildPullRequestUrl,
  };
}
