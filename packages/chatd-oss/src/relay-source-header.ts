// The header a replica sets when it dials another replica's stream as a relay. A subscription that
// carries it is served from local state only, so relays never chain.

/** Marks replica-relayed stream requests (the original's `X-Coder-Relay-Source-Replica`). */
export const RELAY_SOURCE_HEADER = 'X-Coder-Relay-Source-Replica';
