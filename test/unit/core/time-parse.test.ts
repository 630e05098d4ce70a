// parseIsoMs (core/time.ts), the collector's timestamp parser, against Date.parse.
import { describe, expect, it } from 'vitest';
import { isoMs, parseIsoMs } from '../../../core/time.ts';

/** Date.parse and parseIsoMs agree (NaN included). */
function same(s: string): void {
  expect(Object.is(parseIsoMs(s), Date.parse(s)), s).toBe(true);
}

describe('parseIsoMs equals Date.parse', () => {
  it('on the wire forms, offsets, leap days and the edges of the fields', () => {
    for (const s of [
      '2026-10-01T00:00:00.000Z',
      '2026-10-01T08:00:00.003+08:00',
      '2026-10-01T00:00:00.999-23:59',
      '2026-12-31T23:59:59.999+00:00',
      '1970-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '0100-01-01T00:00:00.000Z',
      '0099-12-31T23:59:59.999Z',
      '0000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '2024-02-29T12:00:00.000Z',
      '2000-02-29T12:00:00.000Z',
      '1900-02-29T12:00:00.000Z',
      '2026-02-29T12:00:00.000Z',
      '2026-02-30T12:00:00.000Z',
      '2026-04-31T12:00:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-00-01T00:00:00.000Z',
      '2026-01-00T00:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-01-01T23:60:00.000Z',
      '2026-01-01T23:59:60.000Z',
      '2026-01-01T00:00:00.000+24:00',
      '2026-01-01T00:00:00.000+23:60',
      '2026-01-01T00:00:00.000*08:00',
      '2026-01-01T00:00:00.000+08-00',
      '2026-01-01T00:00:00.000z',
      '2026-01-01T00:00:00.000X',
      '2026-01-01t00:00:00.000Z',
      '2026-01-01 00:00:00.000Z',
      '2026/01/01T00:00:00.000Z',
      '2026-01-01T00:00:00,000Z',
      '2026-01-01T00-00:00.000Z',
      '2026-01-01T00:00-00.000Z',
      '2026-0a-01T00:00:00.000Z',
      '2026-01-01T00:00:00.00aZ',
      '2026-01-01T00:00:00.000+0a:00',
      '2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00.0000Z',
      '2026-01-01T00:00:00.000',
      '2026-01-01',
      '',
      'not a date',
      '+002026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:00.000+08:00 ',
    ])
      same(s);
  });

  it('on random instants in every form the gateway or a device may send', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    for (let i = 0; i < 20_000; i++) {
      // Years 0100..9999 and the ms of any instant in them.
      const ms = Date.UTC(100 + rand(9900), rand(12), 1 + rand(31), rand(24), rand(60), rand(60), rand(1000));
      const z = isoMs(ms);
      same(z);
      expect(parseIsoMs(z)).toBe(ms);
      const off = (rand(2) ? 1 : -1) * rand(24 * 60);
      const local = new Date(ms + off * 60_000).toISOString().slice(0, 23);
      const withOffset = `${local}${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60), 2)}:${pad(Math.abs(off) % 60, 2)}`;
      same(withOffset);
      // A random field out of range or a random character changed.
      const chars = withOffset.split('');
      chars[rand(chars.length)] = String.fromCharCode(rand(2) ? 48 + rand(10) : 32 + rand(95));
      same(chars.join(''));
    }
  });
});
