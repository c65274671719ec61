-- The replica credential (chatd.md 0.4, issue 21): each replica registers a random secret; only its SHA-256 is
-- stored, so reading this table does not let anyone pose as a replica. A relay leg presents the secret and the
-- serving replica compares hashes. Rows of replicas that predate it have none: their legs are user sockets.

ALTER TABLE chatd_replicas ADD COLUMN credential_hash bytea;
