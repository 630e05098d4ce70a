/**
 * The dashboard's value formatting (issue 15): a Double's 17 significant digits are shown rounded and
 * marked, never as if the meter resolved them; ordinary values are shown exactly as stored.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain browser ES module of the dashboard, without type declarations
import { displayValue } from '../../server/web/format.js';

describe('displayValue', () => {
  it('rounds a 17-digit Double to 10 significant digits, marked ≈', () => {
    expect(displayValue('20221.645241796603')).toBe('≈20221.64524');
    expect(displayValue('-0.000123456789012345')).toBe('≈-0.0001234568');
  });
  it('shows values a meter resolves exactly as stored', () => {
    for (const v of ['412.5', '4294967.295', '0', '-3', '123456.789', '1000000000'])
      expect(displayValue(v)).toBe(v);
  });
});
