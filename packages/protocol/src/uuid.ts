// UUIDs in canonical 8-4-4-4-12 text form (any case); every chat and run id on the wire is one.

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a UUID in canonical text form (any case). */
export function isUuidText(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}
