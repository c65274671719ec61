// What the benchmarks say about Vercel Workflow's @workflow/world-postgres streamer (kept in one place).
export const worldPostgresNote =
  "Vercel Workflow's @workflow/world-postgres streamer: not measured yet in this run (see the S3 section for its notify pattern, one NOTIFY per chunk).";
