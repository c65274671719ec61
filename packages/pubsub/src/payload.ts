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

/** A validated notification, ready to send: `text` for NOTIFY and `bytes` (built on first use) for in-process delivery. */
export type PreparedNotification = { readonly channel: string; readonly text: string; readonly bytes: Buffer };

// String.prototype.isWellFormed (Node 20+) is much faster than a regex; fall back where it is missing.
const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE_RE.test(s);

/**
 * Validates `channel` and `payload` the way PostgreSQL would, but before sending anything: the channel
 * is a 1-63 byte identifier, the payload is UTF-8 text without NUL of fewer than 8000 bytes.
 * Throws PubSubError INVALID_CHANNEL, MALFORMED_PAYLOAD or PAYLOAD_TOO_LARGE.
 */
export function prepareNotification(channel: string, payload: Buffer | Uint8Array | string): PreparedNotification {
  assertValidChannel(channel);
  if (typeof payload === 'string') {
    // Cheap length bound first: UTF-8 needs at least one byte per UTF-16 unit.
    if (payload.length >= NOTIFY_PAYLOAD_LIMIT_BYTES) throw tooLarge(Buffer.byteLength(payload, 'utf8'));
    if (!isWellFormed(payload)) throw new PubSubError('MALFORMED_PAYLOAD', 'payload string is not well-formed UTF-16 (lone surrogate)');
    const n = Buffer.byteLength(payload, 'utf8');
    if (n >= NOTIFY_PAYLOAD_LIMIT_BYTES) throw tooLarge(n);
    if (payload.includes('\0')) throw nul();
    let bytes: Buffer | undefined;
    return {
      channel,
      text: payload,
      get bytes() {
        return (bytes ??= Buffer.from(payload, 'utf8'));
      },
    };
  }
  if (!(payload instanceof Uint8Array)) {
    throw new PubSubError('MALFORMED_PAYLOAD', `payload must be a Buffer or a string, got ${payload === null ? 'null' : typeof payload}`);
  }
  if (payload.byteLength >= NOTIFY_PAYLOAD_LIMIT_BYTES) throw tooLarge(payload.byteLength);
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (view.includes(0)) throw nul();
  let text: string;
  try {
    text = utf8.decode(view);
  } catch (cause) {
    throw new PubSubError('MALFORMED_PAYLOAD', 'payload is not valid UTF-8 (NOTIFY payloads are text)', { cause });
  }
  // Copy: the caller may reuse its buffer after publish returns.
  return { channel, text, bytes: Buffer.from(view) };
}

function nul(): PubSubError {
  return new PubSubError('MALFORMED_PAYLOAD', 'payload contains a NUL character (NOTIFY payloads are text)');
}

function tooLarge(n: number): PubSubError {
  return new PubSubError('PAYLOAD_TOO_LARGE', `payload is ${n} bytes; NOTIFY payloads must be under ${NOTIFY_PAYLOAD_LIMIT_BYTES} bytes`);
}
