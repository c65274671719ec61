// zod schemas for the GitLab REST v4 responses the GitLab provider reads (contract.md#gitlab). Only the fields
// used are declared; a body that fails them becomes a row-level INVALID_RESPONSE error.
import { z } from 'zod';

/** `GET /projects/:id/merge_requests?...`. */
export const gitLabMergeRequestListSchema = z.array(z.object({ iid: z.number().int(), web_url: z.string().nullish() }));

/** `GET /projects/:id/merge_requests/:iid`. */
export const gitLabMergeRequestSchema = z.object({
  iid: z.number().int(),
  title: z.string(),
  state: z.string(),
  draft: z.boolean().nullish(),
  sha: z.string().nullish(),
  diff_refs: z.object({ head_sha: z.string().nullish() }).nullish(),
  source_branch: z.string(),
  target_branch: z.string(),
  author: z.object({ username: z.string(), avatar_url: z.string().nullish() }).nullish(),
  /** A string that may read "1000+". */
  changes_count: z.string().nullish(),
});

/** `GET /projects/:id/merge_requests/:iid/approvals`. */
export const gitLabApprovalsSchema = z.object({
  approved: z.boolean().nullish(),
  approved_by: z.array(z.object({ user: z.object({ username: z.string() }).nullish() })).nullish(),
});

/** `GET /projects/:id/merge_requests/:iid/commits`. */
export const gitLabCommitListSchema = z.array(z.object({ id: z.string() }));

/** `GET /projects/:id/merge_requests/:iid/diffs`. */
export const gitLabDiffListSchema = z.array(z.object({ diff: z.string() }));

/** `GET /projects/:id`. */
export const gitLabProjectSchema = z.object({ default_branch: z.string().nullish() });

/** `GET /projects/:id/repository/compare`. */
export const gitLabCompareSchema = z.object({
  compare_timeout: z.boolean().nullish(),
  diffs: z.array(
    z.object({
      old_path: z.string(),
      new_path: z.string(),
      diff: z.string(),
      new_file: z.boolean().nullish(),
      deleted_file: z.boolean().nullish(),
      collapsed: z.boolean().nullish(),
      too_large: z.boolean().nullish(),
    }),
  ),
});
