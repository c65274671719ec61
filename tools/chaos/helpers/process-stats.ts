// Resource readings of a running process from /proc (Linux): open file descriptors and resident memory.
// The chaos suite compares them before a fault and after recovery; it does not profile anything.
import fs from 'node:fs';

/** A process's open file descriptors and resident set size. */
export type ProcessStats = { fds: number; rssKiB: number };

/** Reads /proc/<pid>/fd and /proc/<pid>/status (VmRSS). Throws when the process is gone. */
export function processStats(pid: number): ProcessStats {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return { fds, rssKiB: Number(m[1]) };
}
