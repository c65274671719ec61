// The stream cursor (contract.md#stream-query, contract.md#part-cursor): `after_id` (int64, kept as bigint from URL to SQL, never a JS number), and
// `after_seq` with `run_id` (a UUID), which go together. Parsing the query of a stream request and writing
// it for a dial are both here, so client, server and relay agree. It does not decide what a cursor selects.
import { parseInt64Text } from './int64.js';
import { ProtocolError } from './protocol-error.js';
import { isUuid } from './chat-types.js';

/** Where a stream starts: messages after `afterId`, and the parts of run `runId` after `afterSeq`. */
export type StreamCursorQuery = {
  /** Messages with an id above it are sent; `INT64_MAX` means none. */
  afterId?: bigint;
  /** Parts of `runId` with a seq above it are sent (set together with `runId`). */
  afterSeq?: number;
  /** The run `afterSeq` counts in, lower-cased. */
  runId?: string;
};

// after_seq is a part counter: 15 digits stay a safe integer, so Number() is exact.
const AFTER_SEQ_RE = /^\d{1,15}$/;

/** The cursor of a stream request's query, or ProtocolError INVALID_CURSOR naming the field (`validations`). */
export function parseStreamQuery(url: URL | URLSearchParams): StreamCursorQuery {
  const params = url instanceof URLSearchParams ? url : url.searchParams;
  const out: StreamCursorQuery = {};
  const afterId = params.get('after_id');
  if (afterId !== null && afterId !== '') {
    const n = parseInt64Text(afterId);
    if (n === undefined) throw new ProtocolError('INVALID_CURSOR', 'Invalid after_id parameter.', { validations: [{ field: 'after_id', detail: 'must be an int64 >= 0' }] });
    out.afterId = n;
  }
  const afterSeq = params.get('after_seq');
  const runId = params.get('run_id');
  if ((afterSeq !== null) !== (runId !== null)) {
    throw new ProtocolError('INVALID_CURSOR', 'after_seq and run_id go together.', { validations: [{ field: afterSeq !== null ? 'run_id' : 'after_seq', detail: 'required with the other' }] });
  }
  if (afterSeq !== null && runId !== null) {
    if (!AFTER_SEQ_RE.test(afterSeq)) throw new ProtocolError('INVALID_CURSOR', 'Invalid after_seq parameter.', { validations: [{ field: 'after_seq', detail: 'must be an integer >= 0' }] });
    // Every run id is a UUID (contract.md#part-cursor): anything else is refused here, not by a lookup after the upgrade.
    if (!isUuid(runId)) throw new ProtocolError('INVALID_CURSOR', 'Invalid run_id parameter.', { validations: [{ field: 'run_id', detail: 'must be a UUID' }] });
    out.afterSeq = Number(afterSeq);
    out.runId = runId.toLowerCase();
  }
  return out;
}

/**
 * Writes `cursor` into `params` (in the spec's order: `after_id`, `after_seq`, `run_id`) and returns them. It
 * only writes what it is given: checking is the server's (`parseStreamQuery`); `afterSeq` without `runId` is ignored.
 */
export function setStreamQuery(params: URLSearchParams, cursor: StreamCursorQuery): URLSearchParams {
  if (cursor.afterId !== undefined) params.set('after_id', cursor.afterId.toString());
  if (cursor.runId !== undefined) {
    params.set('after_seq', String(cursor.afterSeq ?? 0));
    params.set('run_id', cursor.runId);
  }
  return params;
}
