// Exact values in the XLSX export (evidence/xlsx-export.ts): a number only when it reads back as the
// same decimal, text otherwise, nothing for a missing value.
import { describe, expect, it } from 'vitest';
import { exactCell } from '../../../evidence/xlsx-export.ts';

describe('exactCell', () => {
  it('writes numbers that round-trip as numbers', () => {
    expect(exactCell('81')).toBe(81);
    expect(exactCell('0.1')).toBe(0.1);
    expect(exactCell('-12.5000')).toBe(-12.5);
    expect(exactCell('1234.567')).toBe(1234.567);
  });

  it('keeps decimals a double would change as text, and leaves a missing value empty', () => {
    expect(exactCell('123456789.123456789')).toBe('123456789.123456789');
    expect(exactCell('12345678901234567890')).toBe('12345678901234567890');
    expect(exactCell(null)).toBeNull();
  });
});
