import { describe, expect, it } from 'vitest';
import { SESSION_TOKEN_COOKIE, SESSION_TOKEN_HEADER, cookieSessionToken, extractSessionToken, fetchHeaderGetter } from '../src/index.js';

/** fetch Headers (case-insensitive) through the getter, as the relay adapts its request headers. */
const fromHeaders = (init: Record<string, string>) => fetchHeaderGetter(new Headers(init));

describe('extractSessionToken', () => {
  it('prefers the cookie, then Coder-Session-Token, then a Bearer token', () => {
    expect(extractSessionToken(fromHeaders({ cookie: 'a=1; coder_session_token=c%20t', 'Coder-Session-Token': 'h', authorization: 'Bearer b' }))).toBe('c t');
    expect(extractSessionToken(fromHeaders({ 'Coder-Session-Token': ' h ', authorization: 'Bearer b' }))).toBe('h');
    expect(extractSessionToken(fromHeaders({ authorization: 'bearer b' }))).toBe('b');
    expect(extractSessionToken(fromHeaders({ authorization: 'Basic xyz' }))).toBeUndefined();
    expect(extractSessionToken(fromHeaders({ cookie: 'other=1' }))).toBeUndefined();
    expect(extractSessionToken(fromHeaders({}))).toBeUndefined();
  });

  it('reads a quoted cookie value without its quotes, and a malformed escape as it is', () => {
    expect(extractSessionToken(fromHeaders({ cookie: 'coder_session_token="q t"' }))).toBe('q t');
    expect(extractSessionToken(fromHeaders({ cookie: 'coder_session_token=%zz' }))).toBe('%zz');
  });

  it('falls through an empty cookie to the header', () => {
    expect(extractSessionToken(fromHeaders({ cookie: 'coder_session_token=', 'coder-session-token': 'h' }))).toBe('h');
  });

  it('asks the getter for lower-case names only', () => {
    const asked: string[] = [];
    extractSessionToken((name) => {
      asked.push(name);
      return undefined;
    });
    expect(asked).toEqual(['cookie', SESSION_TOKEN_HEADER.toLowerCase(), 'authorization']);
  });
});

describe('cookieSessionToken', () => {
  it('reads the session cookie alone', () => {
    expect(SESSION_TOKEN_COOKIE).toBe('coder_session_token');
    expect(cookieSessionToken(fromHeaders({ cookie: 'coder_session_token=c', authorization: 'Bearer b' }))).toBe('c');
    expect(cookieSessionToken(fromHeaders({ authorization: 'Bearer b' }))).toBeUndefined();
  });
});
