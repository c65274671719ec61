-- Socket tickets (contract.md#tickets): single-use credentials for one browser socket, minted by an authenticated
-- request. Stored here, not in one replica's memory, so a ticket minted on one replica opens a socket on another
-- behind a load balancer. Only the SHA-256 of a ticket is stored. `chat_id` is the stream's chat; null for a watch
-- ticket (chat watch and inbox sockets). A ticket dies with its token.
CREATE TABLE socket_tickets (
  ticket_hash  bytea PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('stream', 'watch')),
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_id     uuid NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
  token_kind   text NOT NULL,
  chat_id      uuid,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  CHECK ((kind = 'stream') = (chat_id IS NOT NULL))
);
-- Expired tickets are swept by expiry.
CREATE INDEX socket_tickets_expires ON socket_tickets (expires_at);
