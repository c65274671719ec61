// zod schemas for the GitHub REST responses the provider reads (contract.md#github). Only the fields used are
// declared; unknown fields are dropped. A body that fails them becomes a row-level INVALID_RESPONSE error.
import { z } from 'zod';

const count = z.number().int().nonnegative();

/** `GET /repos/{o}/{r}/pulls?...`: only the first element's `html_url` is used. */
export const gitHubPullListSchema = z.array(z.object({ html_url: z.string() }));

/** `GET /repos/{o}/{r}/pulls/{n}`. */
export const gitHubPullSchema = z.object({
  number: z.number().int(),
  title: z.string(),
  state: z.string(),
  merged: z.boolean().nullish(),
  draft: z.boolean().nullish(),
  additions: count,
  deletions: count,
  changed_files: count,
  commits: count.nullish(),
  head: z.object({ sha: z.string(), ref: z.string() }),
  base: z.object({ ref: z.string() }).nullish(),
  user: z.object({ login: z.string(), avatar_url: z.string().nullish() }).nullish(),
});

/** `GET /repos/{o}/{r}/pulls/{n}/reviews`. */
export const gitHubReviewListSchema = z.array(
  z.object({
    id: z.number(),
    state: z.string(),
    user: z.object({ login: z.string() }).nullish(),
  }),
);

/** `GET /repos/{o}/{r}`. */
export const gitHubRepositorySchema = z.object({ default_branch: z.string().nullish() });

/** A parsed pull request. */
export type GitHubPull = z.infer<typeof gitHubPullSchema>;
/** Parsed reviews. */
export type GitHubReviewList = z.infer<typeof gitHubReviewListSchema>;
