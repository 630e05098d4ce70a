/** Session store, URL redaction, JSON depth and the --trust-proxy flag: the pure parts of issue 17 item 5. */
import { describe, expect, it } from 'vitest';
import { trustProxyFlag } from '../../../cli/commands.ts';
import { jsonDepth } from '../../../server/app.ts';
import { redactUrl } from '../../../server/auth.ts';
import { SessionStore } from '../../../server/sessions.ts';

describe('SessionStore', () => {
  it('hands out random ids, looks them up, and forgets them on revoke, token revoke and expiry', () => {
    let now = 1_000;
    const s = new SessionStore({ ttlMs: 100, idleMs: 50, now: () => now });
    const a = s.create('aaaaaaaa');
    const b = s.create('aaaaaaaa');
    const c = s.create('bbbbbbbb');
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    expect(s.lookup(a.id)).toMatchObject({ tokenId: 'aaaaaaaa', expiresAt: 1_100 });
    expect(s.lookup(`${a.id.slice(0, 42)}${a.id[42] === 'A' ? 'B' : 'A'}`)).toBeUndefined();
    expect(s.lookup('short')).toBeUndefined();
    expect(s.revoke(a.id)).toBe(true);
    expect(s.lookup(a.id)).toBeUndefined();
    expect(s.revokeToken('aaaaaaaa')).toBe(1);
    expect(s.lookup(b.id)).toBeUndefined();
    now += 40;
    expect(s.lookup(c.id)).toBeDefined(); // used: idle timer restarts
    now += 40;
    expect(s.lookup(c.id)).toBeDefined();
    now += 30; // 110 ms after creation: past the absolute lifetime
    expect(s.lookup(c.id)).toBeUndefined();
    const d = s.create('cccccccc');
    now += 50;
    expect(s.lookup(d.id)).toBeUndefined(); // idle
  });

  it('keeps at most maxSessions, ending the oldest first', () => {
    const s = new SessionStore({ maxSessions: 2 });
    const a = s.create('a');
    const b = s.create('b');
    const c = s.create('c');
    expect(s.size).toBe(2);
    expect(s.lookup(a.id)).toBeUndefined();
    expect(s.lookup(b.id)?.tokenId).toBe('b');
    expect(s.lookup(c.id)?.tokenId).toBe('c');
  });
});

describe('redactUrl', () => {
  const tok = `mrv_1a2b3c4d_${'Q'.repeat(43)}`;
  it.each([
    [`/api/v1/units?token=${tok}`, '/api/v1/units?token=[redacted]'],
    [`/api/v1/units?%74oken=${tok}&x=1`, '/api/v1/units?%74oken=[redacted]&x=1'],
    [`/api/v1/units?TOKEN=abc`, '/api/v1/units?TOKEN=[redacted]'],
    [`/api/v1/units?access_token=abc`, '/api/v1/units?access_token=[redacted]'],
    [`/api/v1/units?mrv_session=abc`, '/api/v1/units?mrv_session=[redacted]'],
    [`/api/v1/units?x=${encodeURIComponent(tok)}`, '/api/v1/units?x=[redacted]'],
    [`/api/v1/units/${tok}/points`, '/api/v1/units/[redacted]/points'],
    ['/api/v1/units?from=1&to=2', '/api/v1/units?from=1&to=2'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe('jsonDepth', () => {
  it('counts nesting outside strings and stops past the limit', () => {
    expect(jsonDepth('{"a":[1,{"b":2}]}', 64)).toBe(3);
    expect(jsonDepth('{"a":"[[[[[[\\"[[["}', 64)).toBe(1);
    expect(jsonDepth('['.repeat(1_000_000), 64)).toBe(65);
  });
});

describe('--trust-proxy', () => {
  it('parses addresses, true, and nothing', () => {
    expect(trustProxyFlag(undefined)).toBeUndefined();
    expect(trustProxyFlag('false')).toBeUndefined();
    expect(trustProxyFlag('true')).toBe(true);
    expect(trustProxyFlag('127.0.0.1, 10.0.0.0/8')).toEqual(['127.0.0.1', '10.0.0.0/8']);
  });
});
