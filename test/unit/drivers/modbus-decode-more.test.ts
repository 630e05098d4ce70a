// Golden cases for the types and orders of issue 3: 64-bit order names, bits in registers, coil and
// discrete-input bit packing, strings. Bytes were produced with Python's struct module and bytes
// literals (big-endian pack, then the rearrangement each order names), not with our encoder.
import { describe, expect, it } from 'vitest';
import {
  type ByteOrder,
  decodeBit,
  decodePoint,
  decodeRaw,
  decodeString,
  encodeRaw,
  encodeString,
  type ModbusType,
  orderFits,
  registerCount,
} from '../../../drivers/modbus/decode.ts';

const golden64: [ModbusType, ByteOrder, string, string][] = [
  ['uint64', 'ABCDEFGH', '0123456789abcdef', '81985529216486895'],
  ['uint64', 'BADCFEHG', '23016745ab89efcd', '81985529216486895'],
  ['uint64', 'GHEFCDAB', 'cdef89ab45670123', '81985529216486895'],
  ['uint64', 'HGFEDCBA', 'efcdab8967452301', '81985529216486895'],
  ['uint64', 'CDAB', 'cdef89ab45670123', '81985529216486895'],
  ['int64', 'ABCDEFGH', 'fffffffffffffffe', '-2'],
  ['int64', 'BADCFEHG', 'fffffffffffffeff', '-2'],
  ['int64', 'GHEFCDAB', 'fffeffffffffffff', '-2'],
  ['int64', 'HGFEDCBA', 'feffffffffffffff', '-2'],
  ['int64', 'ABCD', '8000000000000000', '-9223372036854775808'],
  ['float64', 'ABCDEFGH', '4132d687e4189375', '1234567.891'],
  ['float64', 'BADCFEHG', '324187d618e47593', '1234567.891'],
  ['float64', 'GHEFCDAB', '9375e418d6874132', '1234567.891'],
  ['float64', 'HGFEDCBA', '759318e487d63241', '1234567.891'],
];

describe('64-bit order names', () => {
  it.each(golden64)('%s %s %s → %s', (type, order, hex, expected) => {
    expect(decodeRaw(Buffer.from(hex, 'hex'), 0, type, order)).toBe(expected);
    expect(Buffer.from(encodeRaw(expected, type, order)).toString('hex')).toBe(hex);
  });

  it('fit 64-bit types only', () => {
    expect(orderFits('uint64', 'HGFEDCBA')).toBe(true);
    expect(orderFits('float32', 'HGFEDCBA')).toBe(false);
    expect(orderFits('uint16', 'CDAB')).toBe(false);
    expect(orderFits('uint16', 'BA')).toBe(true);
    expect(orderFits('int64', 'AB')).toBe(false);
  });
});

describe('bool in a register (bit 0 = least significant)', () => {
  it('reads each bit of 0x8001 in AB and BA', () => {
    const ab = Buffer.from('8001', 'hex');
    const ba = Buffer.from('0180', 'hex');
    for (const [wire, order] of [
      [ab, 'AB'],
      [ba, 'BA'],
    ] as const) {
      expect(decodeRaw(wire, 0, 'bool', order, 0)).toBe('1');
      expect(decodeRaw(wire, 0, 'bool', order, 1)).toBe('0');
      expect(decodeRaw(wire, 0, 'bool', order, 15)).toBe('1');
    }
  });
  it('needs a bit 0–15', () => {
    expect(() => decodeRaw(Buffer.from('0001', 'hex'), 0, 'bool', 'AB')).toThrow(RangeError);
    expect(() => decodeRaw(Buffer.from('0001', 'hex'), 0, 'bool', 'AB', 16)).toThrow(RangeError);
  });
});

describe('coil / discrete-input bits', () => {
  // MODBUS Application Protocol V1.1b3 §6.1 example: coils 20–38 answer CD 6B 05;
  // CD = 1100 1101 holds coils 27…20, so coil 20 is 1, 21 is 0, 22 is 1, 23 is 1, 24 is 0.
  const packed = Buffer.from('cd6b05', 'hex');
  it.each([
    [0, '1'],
    [1, '0'],
    [2, '1'],
    [3, '1'],
    [4, '0'],
    [5, '0'],
    [6, '1'],
    [7, '1'],
    [8, '1'], // 6B = 0110 1011: coil 28 is 1
    [10, '0'],
    [16, '1'], // 05 = 0000 0101: coil 36 is 1, 37 is 0, 38 is 1
    [17, '0'],
    [18, '1'],
  ])('bit %i is %s', (i, v) => {
    expect(decodeBit(packed, i)).toBe(v);
  });
  it('throws past the data', () => {
    expect(() => decodeBit(packed, 24)).toThrow(RangeError);
  });
});

describe('strings', () => {
  it('reads ASCII high byte first (AB) and low byte first (BA), ending at NUL', () => {
    expect(decodeString(Buffer.from('434c494e4b455200', 'hex'), 0, 4, 'AB')).toBe('CLINKER');
    expect(decodeString(Buffer.from('4c434e49454b0052', 'hex'), 0, 4, 'BA')).toBe('CLINKER');
    expect(decodeString(Buffer.from('4142202020202020', 'hex'), 0, 4, 'ABCD')).toBe('AB');
  });
  it('reads UTF-8 and rejects what is not valid', () => {
    expect(decodeString(Buffer.from('e7869fe69699', 'hex'), 0, 3, 'AB', 'utf8')).toBe('熟料');
    expect(() => decodeString(Buffer.from('e786', 'hex'), 0, 1, 'AB', 'utf8')).toThrow(
      expect.objectContaining({ code: 'MRV_E_DECODE' }),
    );
    expect(() => decodeString(Buffer.from('e786', 'hex'), 0, 1, 'AB', 'ascii')).toThrow(/not ASCII/);
  });
  it('encodes as the inverse, NUL-padded, and refuses text that does not fit', () => {
    expect(Buffer.from(encodeString('CLINKER', 4, 'BA')).toString('hex')).toBe('4c434e49454b0052');
    expect(() => encodeString('CLINKER!!', 4, 'AB')).toThrow(RangeError);
  });
  it('need a register count', () => {
    expect(registerCount('string', 8)).toBe(8);
    expect(() => registerCount('string')).toThrow(RangeError);
  });
});

describe('decodePoint', () => {
  it('scales numbers, not bits', () => {
    const regs = Buffer.from('0000fffe', 'hex');
    expect(decodePoint({ table: 'holding', type: 'int16', order: 'AB', scale: '0.5' }, regs, 2)).toBe('-1');
    expect(decodePoint({ table: 'holding', type: 'bool', order: 'AB', bit: 1, scale: 10 }, regs, 2)).toBe(
      '1',
    );
    expect(decodePoint({ table: 'coil', type: 'bool', order: 'ABCD' }, Buffer.from('02', 'hex'), 1)).toBe(
      '1',
    );
    expect(
      decodePoint({ table: 'input', type: 'string', order: 'AB', count: 1 }, Buffer.from('4f4b', 'hex'), 0),
    ).toBe('OK');
  });
});
