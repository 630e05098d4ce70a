// checkReading (collector/store-checks.ts), the per-reading check both stores run before writing.
import { describe, expect, it } from 'vitest';
import type { StoredReading } from '../../../collector/store.ts';
import { checkReading } from '../../../collector/store-checks.ts';
import { MrvError } from '../../../core/errors.ts';

const GOOD: StoredReading = {
  unitId: 'U1',
  gatewayId: 'gw-1',
  device: 'd.1',
  point: 'p_1',
  meter: 'M1',
  ts: 1,
  rxTs: 2,
  value: '1.5',
  quality: 'good',
  seq: 0,
};

/** The MrvError checkReading throws for `patch` over a good reading (at index 3), or undefined. */
function error(patch: Record<string, unknown>, checked = new Set<string>()): MrvError | undefined {
  try {
    checkReading({ ...GOOD, ...patch } as StoredReading, 3, checked);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(MrvError);
    return err as MrvError;
  }
}

describe('checkReading', () => {
  it('passes good readings, with or without meter and reason, bad ones with a null value', () => {
    expect(error({})).toBeUndefined();
    expect(error({ meter: undefined, reason: 'x' })).toBeUndefined();
    expect(error({ quality: 'bad', value: null, reason: 'MRV_E_X' })).toBeUndefined();
    expect(error({ value: '-1.25e-7', quality: 'uncertain', seq: 9 })).toBeUndefined();
  });

  it('names the first id that is not an Identifier, field by field', () => {
    for (const field of ['unitId', 'gatewayId', 'device', 'point', 'meter']) {
      for (const id of ['', 'a b', 'a,b', '-a', 'x'.repeat(65), 5]) {
        const err = error({ [field]: id });
        expect(err?.code).toBe('MRV_E_STORE');
        expect(err?.message).toBe(`${field} ${JSON.stringify(id)} is not an identifier`);
        expect(err?.detail).toEqual({ field, index: 3 });
      }
    }
    // Two bad ids: the first in the order unitId, gatewayId, device, point, meter.
    expect(error({ point: 'a b', device: 'c d' })?.message).toBe('device "c d" is not an identifier');
    expect(error({ meter: 'a b', gatewayId: '' })?.message).toBe('gatewayId "" is not an identifier');
  });

  it('remembers good ids in `checked` and never a bad one', () => {
    const checked = new Set<string>();
    expect(error({}, checked)).toBeUndefined();
    expect([...checked].sort()).toEqual(['M1', 'U1', 'd.1', 'gw-1', 'p_1']);
    expect(error({ point: 'a b' }, checked)).toBeDefined();
    expect(checked.has('a b')).toBe(false);
    // An id already in `checked` is taken as checked.
    checked.add('not checked');
    expect(error({ point: 'not checked' }, checked)).toBeUndefined();
  });

  it('rejects unknown qualities, non-decimal values, non-integer times and bad seqs', () => {
    expect(error({ quality: 'Good' })?.message).toBe('reading 3 (U1/p_1): unknown quality "Good"');
    for (const value of ['1,5', '01', '.5', '', ' 1', 'NaN', 1.5, undefined])
      expect(error({ value })?.message).toBe(
        `reading 3 (U1/p_1): value ${JSON.stringify(value)} is not a decimal string`,
      );
    for (const t of [1.5, Number.NaN, 2 ** 53, '1']) {
      expect(error({ ts: t })?.message).toBe('reading 3 (U1/p_1): ts and rxTs must be integer ms');
      expect(error({ rxTs: t })?.message).toBe('reading 3 (U1/p_1): ts and rxTs must be integer ms');
    }
    for (const seq of [-1, 1.5, Number.NaN])
      expect(error({ seq })?.message).toBe(`reading 3 (U1/p_1): seq ${seq} is not a non-negative integer`);
    expect(error({ quality: 'Good' })?.detail).toEqual({ index: 3, point: 'p_1' });
  });
});
