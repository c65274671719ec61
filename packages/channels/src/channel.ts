// The Channel record the router stores, and the seed's two declared-but-unused helper types.
// A channel is an append-only log owned by a process and usable by its submitter and executor only.
// The router keeps the caller's object by reference, as the original does (see router.ts).
import type { MsgEntry } from './msg-entry.js';

/** An append-only message log (wire names: id, processid, name, submitterid, executorid, sequence, log). */
export type Channel = {
  /** Unique channel id; the original's server builds it as `<processId>_<name>`. */
  id: string;
  /** The owning process. */
  processId: string;
  /** Channel name within the process (not required to be unique). */
  name: string;
  /** The process's submitter: always authorised. */
  submitterId: string;
  /** The assigned executor: '' until assignment, then authorised too. */
  executorId: string;
  /** As supplied at create time; the router never changes it (the original's behaviour). */
  sequence: number;
  /** The entries, in log order. */
  log: MsgEntry[];
};

/** What `create` accepts: a Channel whose executor, sequence and log may be left out (filled in place). */
export type NewChannel = Omit<Channel, 'executorId' | 'sequence' | 'log'> & {
  executorId?: string;
  sequence?: number;
  log?: MsgEntry[] | null;
};

/** A channel declared in a process's function spec (declared by the seed; the router does not use it). */
export type ChannelSpec = {
  name: string;
};

/** Minimal process information for authorisation (declared by the seed; the router does not use it). */
export type ProcessInfo = {
  id: string;
  submitterId: string;
  executorId: string;
};
