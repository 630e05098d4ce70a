// Golden decoding cases. The wire bytes were produced independently with Python's struct module
// (big-endian pack, then the word/byte rearrangement each order names), not with our encoder.
import { describe, expect, it } from 'vitest';
import {
  applyScaling,
  type ByteOrder,
  bytesToRegisters,
  decodeRaw,
  encodeRaw,
  float32ToDecimalString,
  type ModbusType,
} from '../../../drivers/modbus/decode.ts';

const golden: [ModbusType, ByteOrder, string, string][] = [
  ['int16', 'AB', 'fffe', '-2'],
  ['int16', 'BA', 'feff', '-2'],
  ['int16', 'AB', '8000', '-32768'],
  ['uint16', 'AB', 'ffff', '65535'],
  ['uint16', 'AB', '1068', '4200'],
  ['uint16', 'BA', '6810', '4200'],
  ['int32', 'ABCD', 'f8a432eb', '-123456789'],
  ['int32', 'BADC', 'a4f8eb32', '-123456789'],
  ['int32', 'CDAB', '32ebf8a4', '-123456789'],
  ['int32', 'DCBA', 'eb32a4f8', '-123456789'],
  ['uint32', 'ABCD', 'ffffffff', '4294967295'],
  ['uint32', 'ABCD', '12345678', '305419896'],
  ['uint32', 'BADC', '34127856', '305419896'],
  ['uint32', 'CDAB', '56781234', '305419896'],
  ['uint32', 'DCBA', '78563412', '305419896'],
  ['float32', 'ABCD', '42f6e979', '123.456'],
  ['float32', 'BADC', 'f64279e9', '123.456'],
  ['float32', 'CDAB', 'e97942f6', '123.456'],
  ['float32', 'DCBA', '79e9f642', '123.456'],
  ['float32', 'ABCD', 'bdcccccd', '-0.1'],
  ['float32', 'BADC', 'ccbdcdcc', '-0.1'],
  ['float32', 'CDAB', 'cccdbdcc', '-0.1'],
  ['float32', 'DCBA', 'cdccccbd', '-0.1'],
  ['int64', 'ABCD', 'eeddef0b82167eeb', '-1234567890123456789'],
  ['int64', 'BADC', 'ddee0bef1682eb7e', '-1234567890123456789'],
  ['int64', 'CDAB', '7eeb8216ef0beedd', '-1234567890123456789'],
  ['int64', 'DCBA', 'eb7e16820befddee', '-1234567890123456789'],
  ['uint64', 'ABCD', 'ffffffffffffffff', '18446744073709551615'],
  ['float64', 'ABCD', '3fb999999999999a', '0.1'],
  ['float64', 'BADC', 'b93f999999999a99', '0.1'],
  ['float64', 'CDAB', '999a999999993fb9', '0.1'],
  ['float64', 'DCBA', '9a9999999999b93f', '0.1'],
  ['float64', 'ABCD', 'c0f81cd6e9e1b08a', '-98765.4321'],
  ['float64', 'DCBA', '8ab0e1e9d61cf8c0', '-98765.4321'],
];

describe('decodeRaw golden cases', () => {
  it.each(golden)('%s %s %s → %s', (type, order, hex, expected) => {
    expect(decodeRaw(Buffer.from(hex, 'hex'), 0, type, order)).toBe(expected);
  });

  it.each(golden)('encodeRaw is the inverse: %s %s %s', (type, order, hex, value) => {
    expect(Buffer.from(encodeRaw(value, type, order)).toString('hex')).toBe(hex);
  });

  it('reads at a byte offset inside a longer response', () => {
    const wire = Buffer.from('0000' + 'e97942f6' + 'ffff', 'hex');
    expect(decodeRaw(wire, 2, 'float32', 'CDAB')).toBe('123.456');
  });

  it('16-bit types take the byte swap of a 32-bit order', () => {
    expect(decodeRaw(Buffer.from('6810', 'hex'), 0, 'uint16', 'BADC')).toBe('4200');
    expect(decodeRaw(Buffer.from('1068', 'hex'), 0, 'uint16', 'CDAB')).toBe('4200');
  });

  it('rejects NaN and infinite floats with MRV_E_DECODE', () => {
    expect(() => decodeRaw(Buffer.from('7fc00000', 'hex'), 0, 'float32', 'ABCD')).toThrow(
      expect.objectContaining({ code: 'MRV_E_DECODE' }),
    );
    expect(() => decodeRaw(Buffer.from('7ff0000000000000', 'hex'), 0, 'float64', 'ABCD')).toThrow(/Infinity/);
  });

  it('throws when the response is shorter than the value', () => {
    expect(() => decodeRaw(Buffer.from('0001', 'hex'), 0, 'uint32', 'ABCD')).toThrow(RangeError);
  });
});

describe('float32ToDecimalString', () => {
  it('gives the shortest decimal that reads back to the same float32', () => {
    expect(float32ToDecimalString(Math.fround(0.1))).toBe('0.1');
    expect(float32ToDecimalString(Math.fround(412.37))).toBe('412.37');
    expect(float32ToDecimalString(Math.fround(16777217))).toBe('16777216');
    expect(float32ToDecimalString(Math.fround(1e-7))).toBe('0.0000001');
  });
});

describe('applyScaling', () => {
  it('is exact where binary floating point is not', () => {
    expect(applyScaling('4200', { scale: 0.001 })).toBe('4.2');
    expect(applyScaling('3', { scale: '0.1' })).toBe('0.3'); // 3 * 0.1 = 0.30000000000000004 in floats
    expect(applyScaling('4294967295', { scale: '0.001' })).toBe('4294967.295');
    expect(applyScaling('18446744073709551615', { scale: 10 })).toBe('184467440737095516150');
  });
  it('applies offset after scale and rounds half-even when asked', () => {
    expect(applyScaling('1000', { scale: '0.1', offset: '-273.15' })).toBe('-173.15');
    expect(applyScaling('12345', { scale: '0.001', decimals: 2 })).toBe('12.34');
    expect(applyScaling('12355', { scale: '0.001', decimals: 2 })).toBe('12.36');
  });
  it('never writes an exponent', () => {
    expect(applyScaling('1', { scale: '1e-12' })).toBe('0.000000000001');
  });
});

describe('bytesToRegisters', () => {
  it('splits big-endian 16-bit registers', () => {
    expect(bytesToRegisters(Buffer.from('12345678', 'hex'))).toEqual([0x1234, 0x5678]);
  });
});
