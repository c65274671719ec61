// What the OSS server and the enterprise relay both read on the wire between replicas: the header that marks
// a relay dial, and the `error.kind` of a relay's give-up. Both sides import these values; neither matches text.

/** Marks replica-relayed stream requests; its value is the dialing replica's id. A marked request is served from local state only, so relays never chain. */
export const RELAY_SOURCE_HEADER = 'X-Coder-Relay-Source-Replica';

/**
 * `error.kind` of the `error` event a relay yields when it gives up. The merge loop reads this field (never
 * the message text) to turn the event into a `relay_failed` discontinuity.
 */
export const RELAY_GIVE_UP_ERROR_KIND = 'relay';
