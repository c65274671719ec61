// The dialer port of the multi-replica relay: one call opens one relay connection to the replica running a
// chat and hands back its first parts, a live parts stream and a release function. The WebSocket dialer
// implements it for production; tests inject a fake. It does no reconnecting or filtering of its own.
import type { ChatStreamEvent } from '@chatd/protocol';

/** The subscriber's part cursor (contract.md#part-cursor): parts of `runId` after `afterSeq`. */
export type RelayCursor = {
  runId: string;
  afterSeq: number;
};

/** What one dial is given. */
export type RelayDialParams = {
  chatId: string;
  /** The replica expected to run the chat (the dial's target). */
  workerId: string;
  /** Headers of the subscriber's request; its session token is forwarded to the peer. */
  requestHeader: Headers;
  /** Where the subscriber is in the current run; undefined asks for every buffered part. */
  cursor: RelayCursor | undefined;
  /** Aborted when this dial is no longer wanted; a dial that resolves anyway has its connection released. */
  signal: AbortSignal;
};

/** An open relay connection. */
export type RelayConnection = {
  /** Events the peer had buffered when the relay opened (its snapshot). */
  snapshot: ChatStreamEvent[];
  /** Live events; the iterable ends when the peer drops the connection or after `cancel()`. */
  parts: AsyncIterable<ChatStreamEvent>;
  /** Closes the connection; idempotent. */
  cancel(): void;
};

/** Opens a relay connection; rejects with a `RelayDialError` when the handshake fails. */
export type RelayDialer = (params: RelayDialParams) => Promise<RelayConnection>;
