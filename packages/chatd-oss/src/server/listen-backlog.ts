// The listening socket's accept backlog. A reconnect storm (every client of a replica reconnecting at once after a
// network blip or a peer's restart) opens connections faster than a busy event loop accepts them: the kernel queues
// completed handshakes up to the backlog and drops the SYNs beyond it, and each dropped client waits for its SYN
// retry (1 s, then 3, 7, 15 s ...). Node's default backlog is 511; the kernel caps any value at net.core.somaxconn.

/** Connections the kernel queues for `accept` before it drops new SYNs (capped by net.core.somaxconn). @default 4096 */
export const DEFAULT_LISTEN_BACKLOG = 4_096;
