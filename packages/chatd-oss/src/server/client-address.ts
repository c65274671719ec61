// Who is on the other end of a request (issue 22 items 4 and 5): the client's address, for the failed-auth
// limit, and the scheme the browser used, for the cookie origin check. The socket's own address is the answer
// unless its peer is a proxy listed in CHATD_TRUSTED_PROXIES; only then are `X-Forwarded-For` and
// `X-Forwarded-Proto` read. It parses and compares addresses; it never resolves names.
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ChatdError } from '../chatd-error.js';

/** The proxies whose forwarding headers are believed. */
export interface TrustedProxies {
  /** Whether `address` (an IP literal, IPv4-mapped IPv6 included) is one of them. */
  trusts(address: string | undefined): boolean;
  /** The entries as given (for logs). */
  readonly entries: readonly string[];
}

/** `::ffff:10.0.0.1` (how a dual-stack socket reports an IPv4 peer) as `10.0.0.1`; other text unchanged. */
export function normalizeAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}

/**
 * Parses a comma-separated list of IPs and CIDRs (`10.0.0.0/8, 127.0.0.1, ::1`). Throws ChatdError CONFIG on
 * an entry that is neither, naming it.
 */
export function parseTrustedProxies(list: string | readonly string[] | undefined): TrustedProxies {
  const entries = (typeof list === 'string' ? list.split(',') : [...(list ?? [])]).map((e) => e.trim()).filter((e) => e !== '');
  const blocks = new net.BlockList();
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const ip = slash < 0 ? entry : entry.slice(0, slash);
    const family = net.isIP(ip);
    const prefix = slash < 0 ? undefined : entry.slice(slash + 1);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max))) {
      throw new ChatdError('CONFIG', `CHATD_TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR block`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) blocks.addAddress(ip, type);
    else blocks.addSubnet(ip, Number(prefix), type);
  }
  return {
    entries,
    trusts(address) {
      if (!address || entries.length === 0) return false;
      const ip = normalizeAddress(address);
      const family = net.isIP(ip);
      return family !== 0 && blocks.check(ip, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** Trusts nobody: every request is judged by its socket alone. */
export const NO_TRUSTED_PROXIES: TrustedProxies = parseTrustedProxies([]);

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the nearest hop of
 * `X-Forwarded-For` that is not itself trusted, read from the right. The right end is what our own proxies
 * appended; everything left of the first untrusted hop was written by the client and could name anyone.
 */
export function clientAddress(req: IncomingMessage, trusted: TrustedProxies): string {
  const peer = normalizeAddress(req.socket.remoteAddress ?? '');
  if (!trusted.trusts(peer)) return peer;
  const hops = (firstHeader(req.headers['x-forwarded-for']) ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]!);
    // A hop that is no address came from something we cannot judge: stop at the last address we trust.
    if (net.isIP(hop) === 0) return peer;
    if (!trusted.trusts(hop)) return hop;
  }
  // Every hop is one of ours: the left-most is the furthest we can see.
  return hops.length > 0 ? normalizeAddress(hops[0]!) : peer;
}

/** The scheme the browser used: TLS here, or `X-Forwarded-Proto` from a trusted proxy; else plain http. */
export function requestScheme(req: IncomingMessage, trusted: TrustedProxies): 'http' | 'https' {
  if ((req.socket as Partial<TLSSocket>).encrypted === true) return 'https';
  if (trusted.trusts(req.socket.remoteAddress)) {
    const proto = firstHeader(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
    if (proto === 'https') return 'https';
  }
  return 'http';
}
