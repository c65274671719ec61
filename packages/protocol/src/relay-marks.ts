// What the OSS server and the enterprise relay both read on the wire between replicas: the header that marks
// a relay dial, and the `error.kind` of a relay's give-up. Both sides import these values; neither matches text.
import type { ChatStreamError } from './chat-types.js';

/** Marks replica-relayed stream requests; its value is the dialing replica's id. A marked request is served from local state only, so relays never chain. */
export const RELAY_SOURCE_HEADER = 'X-Coder-Relay-Source-Replica';

/**
 * `error.kind` of the `error` event a relay yields when it gives up. The merge loop reads this field (never
 * the message text) to turn the event into a `relay_failed` discontinuity.
 */
export const RELAY_GIVE_UP_ERROR_KIND = 'relay';

/** The `error` payload of a relay give-up: `kind` is RELAY_GIVE_UP_ERROR_KIND, never retryable; the text is for people. */
export function relayGiveUpError(message: string, statusCode?: number): ChatStreamError {
  return { message, kind: RELAY_GIVE_UP_ERROR_KIND, retryable: false, ...(statusCode !== undefined ? { status_code: statusCode } : {}) };
}

/** Whether an `error` payload is a relay give-up (by `kind`, never by its message). */
export function isRelayGiveUpError(error: Pick<ChatStreamError, 'kind'>): boolean {
  return error.kind === RELAY_GIVE_UP_ERROR_KIND;
}
