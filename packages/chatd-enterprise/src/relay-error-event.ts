// The `error` events a relay leg emits when it gives up (contract.md#relay-errors). Every error event the multi-replica
// hook yields is one of these; the OSS merge loop recognises them by `kind` (RELAY_GIVE_UP_ERROR_KIND) and
// turns them into `discontinuity` relay_failed. They reach clients, so they carry fixed texts only: why the
// dial failed (an address, a socket error) stays in the replica's log, never in `detail`.
import { RELAY_GIVE_UP_ERROR_KIND, isRelayGiveUpError, relayGiveUpError, type ChatStreamEvent } from '@chatd/protocol';
import { RELAY_RETRY_MAX_ATTEMPTS } from './relay-backoff.js';

/** `kind` of every relay give-up error payload (@chatd/protocol's `RELAY_GIVE_UP_ERROR_KIND`, which the OSS merge loop reads). */
export const RELAY_ERROR_KIND = RELAY_GIVE_UP_ERROR_KIND;
/** Message after the dial/drop budget ran out. */
export const RELAY_CONNECTION_FAILED_MESSAGE = `relay connection failed after ${RELAY_RETRY_MAX_ATTEMPTS} attempts`;
/** Message after the budget ran out on database errors of the reconnect check. */
export const RELAY_RECONNECT_FAILED_MESSAGE = `relay reconnect failed after ${RELAY_RETRY_MAX_ATTEMPTS} attempts`;
/** Prefix of the message after a 401 or 403 from the peer; the status follows in parentheses. */
export const RELAY_AUTH_FAILED_PREFIX = 'relay authentication failed';

/** Why a relay leg gave up. `cause` is for the log only: it never reaches the event. */
export type RelayGiveUpReason = { kind: 'connection' | 'reconnect'; cause?: unknown } | { kind: 'auth'; httpStatus: number; cause?: unknown };

/** Builds the `error` stream event for a relay leg that gave up. */
export function relayGiveUpEvent(chatId: string, reason: RelayGiveUpReason): ChatStreamEvent {
  const message =
    reason.kind === 'auth'
      ? `${RELAY_AUTH_FAILED_PREFIX} (status ${reason.httpStatus})`
      : reason.kind === 'reconnect'
        ? RELAY_RECONNECT_FAILED_MESSAGE
        : RELAY_CONNECTION_FAILED_MESSAGE;
  return { type: 'error', chat_id: chatId, error: relayGiveUpError(message, reason.kind === 'auth' ? reason.httpStatus : undefined) };
}

/** True for an `error` event produced by `relayGiveUpEvent`. */
export function isRelayGiveUpEvent(event: ChatStreamEvent): boolean {
  return event.type === 'error' && isRelayGiveUpError(event.error);
}
