// What the benchmarks say about Vercel Workflow's @workflow/world-postgres streamer (kept in one place).
export const worldPostgresNote =
  "Vercel Workflow's @workflow/world-postgres 4.3.7 streamer, unchanged (schema set up by its own CLI, in its own database on the same server): A awaits `writeToStream` for each part (an INSERT of the chunk, then a `pg_notify` on the one channel of all streams), B's reader (`readFromStream`) answers each notification with a SELECT of that chunk and writes it to a chunked HTTP response. Only the streamer is used (no workflow runtime or queue).";
