// Golden cases of OPC UA value decoding (drivers/opcua/decode.ts): exact integers of every width,
// shortest round-trip floats, StatusCode severity → quality, timestamps. No server needed.
import { describe, expect, it } from 'vitest';
import { Reading } from '../../../core/schema/wire.ts';
import {
  dataValueToReading,
  int64PairToString,
  statusQuality,
  OpcuaBuiltinType as T,
  variantToDecimalString,
} from '../../../drivers/opcua/decode.ts';

const f32 = (x: number) => Math.fround(x);

describe('variantToDecimalString', () => {
  it.each([
    [T.Boolean, true, '1'],
    [T.Boolean, false, '0'],
    [T.SByte, -128, '-128'],
    [T.Byte, 255, '255'],
    [T.Int16, -32768, '-32768'],
    [T.UInt16, 65535, '65535'],
    [T.Int32, -2147483648, '-2147483648'],
    [T.UInt32, 4294967295, '4294967295'],
    [T.Int64, [0xffffffff, 0xffffffff], '-1'],
    [T.Int64, [0x80000000, 0], '-9223372036854775808'],
    [T.Int64, [0x7fffffff, 0xffffffff], '9223372036854775807'],
    [T.Int64, [0x00200000, 1], '9007199254740993'], // 2^53 + 1: not representable as a double
    [T.UInt64, [0xffffffff, 0xffffffff], '18446744073709551615'],
    [T.UInt64, 18446744073709551615n, '18446744073709551615'],
    [T.Float, f32(0.1), '0.1'],
    [T.Float, f32(412.5), '412.5'],
    [T.Float, f32(3.4028234663852886e38), '340282350000000000000000000000000000000'],
    [T.Float, f32(1e-7), '0.0000001'],
    [T.Double, 0.1, '0.1'],
    [T.Double, 0.1 + 0.2, '0.30000000000000004'],
    [T.Double, 1e21, '1000000000000000000000'],
    [T.Double, -0, '0'],
    [T.String, ' 12.500 ', '12.5'],
  ] as const)('type %i %s → %s', (type, value, expected) => {
    expect(variantToDecimalString(type, value)).toBe(expected);
  });

  it.each([
    [T.Double, Number.NaN, /Double is NaN/],
    [T.Float, Number.POSITIVE_INFINITY, /Float is Infinity/],
    [T.String, 'OFF', /not a decimal number/],
    [13 /* DateTime */, new Date(), /DateTime values cannot be read/],
    [T.Double, null, /Double value is null/],
    [T.Int32, 1.5, /not an integer/],
  ] as const)('refuses type %i %s', (type, value, message) => {
    expect(() => variantToDecimalString(type, value)).toThrow(message);
  });

  it('refuses arrays', () => {
    expect(() => variantToDecimalString(T.Double, [1, 2], true)).toThrow(/only scalar/);
  });

  it('checks the 64-bit words', () => {
    expect(() => int64PairToString([1], false)).toThrow(/pair/);
    expect(() => int64PairToString([2 ** 32, 0], false)).toThrow(/uint32/);
  });
});

describe('statusQuality (OPC 10000-4 §7.39 severity bits)', () => {
  it.each([
    [0x00000000, 'good'], // Good
    [0x002d0000, 'good'], // GoodSubscriptionTransferred
    [0x408f0000, 'uncertain'], // UncertainInitialValue
    [0x40900000, 'uncertain'], // UncertainLastUsableValue
    [0x808d0000, 'bad'], // BadSensorFailure... (any 10xx)
    [0x80340000, 'bad'], // BadNodeIdUnknown
    [0xc0000000, 'bad'], // reserved severity 11 counts as bad
  ] as const)('0x%s → %s', (code, q) => {
    expect(statusQuality(code)).toBe(q);
  });
});

describe('dataValueToReading', () => {
  const source = new Date('2026-03-01T00:00:00.123Z');
  const server = new Date('2026-03-01T00:00:00.456Z');
  const rx = Date.parse('2026-03-01T00:00:01.000Z');

  it('keeps both timestamps, scales exactly and validates on the wire', () => {
    const r = dataValueToReading(
      { id: 'ladle', meter: 'ls-1', scale: '0.001' },
      {
        value: { dataType: T.UInt32, value: 152340 },
        statusCode: { value: 0, name: 'Good' },
        sourceTimestamp: source,
        serverTimestamp: server,
      },
      rx,
    );
    expect(r).toEqual({
      point: 'ladle',
      meter: 'ls-1',
      ts: '2026-03-01T00:00:00.123Z',
      serverTs: '2026-03-01T00:00:00.456Z',
      rxTs: '2026-03-01T00:00:01.000Z',
      value: '152.34',
      quality: 'good',
    });
    expect(Reading.parse(r)).toEqual(r);
  });

  it('falls back to the server timestamp, then the receive time', () => {
    const good = { value: 0, name: 'Good' };
    const v = { dataType: T.Double, value: 1 };
    expect(
      dataValueToReading({ id: 'p' }, { value: v, statusCode: good, serverTimestamp: server }, rx).ts,
    ).toBe(server.toISOString());
    const none = dataValueToReading(
      { id: 'p' },
      { value: v, statusCode: good, sourceTimestamp: new Date(Date.UTC(1601, 0, 1)) },
      rx,
    );
    expect(none.ts).toBe(new Date(rx).toISOString());
    expect(none.serverTs).toBeUndefined();
  });

  it('a Bad status drops the value and names the StatusCode', () => {
    const r = dataValueToReading(
      { id: 'p' },
      {
        value: { dataType: T.Double, value: 7 },
        statusCode: { value: 0x808d0000, name: 'BadSensorFailure' },
        sourceTimestamp: source,
      },
      rx,
    );
    expect(r).toMatchObject({ value: null, quality: 'bad', reason: 'MRV_E_OPCUA_STATUS: BadSensorFailure' });
    expect(Reading.safeParse(r).success).toBe(true);
  });

  it('an Uncertain status keeps the value and says why', () => {
    const r = dataValueToReading(
      { id: 'p' },
      {
        value: { dataType: T.Float, value: f32(0.1) },
        statusCode: { value: 0x40900000, name: 'UncertainLastUsableValue' },
      },
      rx,
    );
    expect(r).toMatchObject({
      value: '0.1',
      quality: 'uncertain',
      reason: 'MRV_E_OPCUA_STATUS: UncertainLastUsableValue',
    });
  });

  it('an undecodable Good value is bad with MRV_E_DECODE', () => {
    const r = dataValueToReading(
      { id: 'p' },
      { value: { dataType: T.String, value: 'RUN' }, statusCode: { value: 0, name: 'Good' } },
      rx,
    );
    expect(r).toMatchObject({ value: null, quality: 'bad' });
    expect(r.reason).toMatch(/^MRV_E_DECODE: /);
  });
});
