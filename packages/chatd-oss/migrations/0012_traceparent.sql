-- Traces across replicas (issue 34): a write stores the W3C `traceparent` of the request that made it with the
-- message (or queued message) it creates, so the run another replica starts from the database is a child of
-- that request's trace. The writer puts its trace context in the transaction-local setting `chatd.traceparent`
-- (db.ts sets it at BEGIN when a span is active); the columns default to it, so no INSERT names it. Null when
-- tracing is off, for rows written before this migration, and for rows of writes without a trace.
CREATE FUNCTION chatd_current_traceparent() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('chatd.traceparent', true), '') $$;

ALTER TABLE chat_messages
  ADD COLUMN traceparent text DEFAULT chatd_current_traceparent();
ALTER TABLE chat_queued_messages
  ADD COLUMN traceparent text DEFAULT chatd_current_traceparent();
