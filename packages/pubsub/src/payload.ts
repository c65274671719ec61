// The checks every payload passes before it is sent, shared by both implementations and by
// `notifyInTransaction`, so bad input fails the same way everywhere and never reaches PostgreSQL.
import { LONE_SURROGATE_RE, assertValidChannel } from './channels.js';
import { PubSubError } from './pubsub-error.js';

/**
 * PostgreSQL's NOTIFY payload limit in bytes (BLCKSZ - NAMEDATALEN - 128 with default build options):
 * a payload of this many bytes or more is rejected with PubSubError PAYLOAD_TOO_LARGE before sending.
 */
export const NOTIFY_PAYLOAD_LIMIT_BYTES = 8000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A validated notification, ready to send: `text` for pg_notify and `bytes` for in-process delivery. */
export type PreparedNotification = { channel: string; text: string; bytes: Buffer };

/**
 * Validates `channel` and `payload` the way PostgreSQL would, but before sending anything: the channel
 * is a 1-63 byte identifier, the payload is UTF-8 text without NUL of fewer than 8000 bytes.
 * Throws PubSubError INVALID_CHANNEL, MALFORMED_PAYLOAD or PAYLOAD_TOO_LARGE.
 */
export function prepareNotification(channel: string, payload: Buffer | Uint8Array | string): PreparedNotification {
  assertValidChannel(channel);
  let text: string;
  let bytes: Buffer;
  if (typeof payload === 'string') {
    if (LONE_SURROGATE_RE.test(payload)) {
      throw new PubSubError('MALFORMED_PAYLOAD', 'payload string is not well-formed UTF-16 (lone surrogate)');
    }
    bytes = Buffer.from(payload, 'utf8');
    text = payload;
  } else if (payload instanceof Uint8Array) {
    bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (bytes.length >= NOTIFY_PAYLOAD_LIMIT_BYTES) throw tooLarge(bytes.length);
    try {
      text = utf8.decode(bytes);
    } catch (cause) {
      throw new PubSubError('MALFORMED_PAYLOAD', 'payload is not valid UTF-8 (NOTIFY payloads are text)', { cause });
    }
    // Copy: the caller may reuse its buffer after publish returns.
    bytes = Buffer.from(bytes);
  } else {
    throw new PubSubError('MALFORMED_PAYLOAD', `payload must be a Buffer or a string, got ${payload === null ? 'null' : typeof payload}`);
  }
  if (bytes.length >= NOTIFY_PAYLOAD_LIMIT_BYTES) throw tooLarge(bytes.length);
  if (bytes.includes(0)) {
    throw new PubSubError('MALFORMED_PAYLOAD', 'payload contains a NUL byte (NOTIFY payloads are text)');
  }
  return { channel, text, bytes };
}

function tooLarge(n: number): PubSubError {
  return new PubSubError('PAYLOAD_TOO_LARGE', `payload is ${n} bytes; NOTIFY payloads must be under ${NOTIFY_PAYLOAD_LIMIT_BYTES} bytes`);
}
