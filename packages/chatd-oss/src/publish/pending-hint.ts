// The cluster-wide hint that a chat became `pending` (contract.md#acquisition). A replica without a worker cannot
// wake a worker in its own process, so its publisher adds one notification on this channel to the change's NOTIFY
// batch; every replica with a worker listens and runs an acquisition pass at once instead of at its next tick.
// Like every NOTIFY it is only a hint: a lost one costs at most one acquisition interval.

/** The channel of the pending hint; its payload is the chat's id (nobody parses it: it only names the chat in logs). */
export const CHAT_PENDING_HINT_CHANNEL = 'chat:pending';
