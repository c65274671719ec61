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

/** Where each open descriptor of `pid` points, TCP sockets as `tcp local -> remote (state)`: for a failure message that names the leaked handle. */
export function describeDescriptors(pid: number): string[] {
  const tcp = new Map<string, string>();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (hexAddr: string) => parseInt(hexAddr.split(':')[1] ?? '0', 16);
      tcp.set(f[9]!, `tcp :${port(f[1]!)} -> :${port(f[2]!)} (state ${f[3]})`);
    }
  }
  const out: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    out.push(`${fd}: ${inode ? (tcp.get(inode) ?? target) : target}`);
  }
  return out;
}
