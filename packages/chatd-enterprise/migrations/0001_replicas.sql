-- The replica registry of @chatd/enterprise (issue 12): every running replica records its id (also its
-- worker id, new at each start) and the address its peers dial for relays, and heartbeats it. A replica
-- whose heartbeat is older than the stale threshold is treated as gone. Times come from the caller's clock.

CREATE TABLE chatd_replicas (
  id             text PRIMARY KEY,
  relay_address  text NOT NULL,
  worker         boolean NOT NULL,
  started_at     timestamptz NOT NULL,
  heartbeat_at   timestamptz NOT NULL
);
CREATE INDEX chatd_replicas_heartbeat ON chatd_replicas (heartbeat_at);
