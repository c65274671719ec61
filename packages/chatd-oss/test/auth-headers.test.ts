import { extractSessionToken } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { SESSION_COOKIE, SESSION_HEADER, nodeHeaderGetter } from '../src/server/auth.js';

describe('nodeHeaderGetter', () => {
  it("feeds Node's lower-case request headers to the protocol's extractor, in its priority", () => {
    expect(SESSION_COOKIE).toBe('coder_session_token');
    expect(SESSION_HEADER).toBe('coder-session-token');
    expect(extractSessionToken(nodeHeaderGetter({ cookie: 'coder_session_token=c', 'coder-session-token': 'h', authorization: 'Bearer b' }))).toBe('c');
    expect(extractSessionToken(nodeHeaderGetter({ 'coder-session-token': 'h', authorization: 'Bearer b' }))).toBe('h');
    expect(extractSessionToken(nodeHeaderGetter({ authorization: 'Bearer b' }))).toBe('b');
    // Only single-valued headers count (Node gives arrays for set-cookie alone).
    expect(nodeHeaderGetter({ 'set-cookie': ['a=1'] })('set-cookie')).toBeUndefined();
  });
});
