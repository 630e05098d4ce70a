/**
 * Decimal arithmetic for the carbon-accounting core. Every quantity in core/domain is a decimal.js
 * value built from an exact decimal string; floats never enter a sum.
 *
 * Precision: 40 significant digits, half-even rounding. Sums and products of the decimal strings
 * that arrive on the wire are exact at that precision; a division (a mean, a ratio, 44/12) rounds
 * once to 40 significant digits, and figures that are published rounded say so (`decimals`).
 */
import { Decimal } from 'decimal.js';

/** The Decimal constructor of core/domain: 40 significant digits, ROUND_HALF_EVEN. */
export const D = Decimal.clone({
  precision: 40,
  rounding: Decimal.ROUND_HALF_EVEN,
  toExpNeg: -30,
  toExpPos: 40,
});
/** A decimal value of core/domain. */
export type Dec = InstanceType<typeof D>;

/** Parses an exact decimal string. @throws Error for text that is not a number */
export function dec(text: string | number): Dec {
  return new D(text);
}

/** Fixed-point text without exponent; `decimals` rounds half-even, absent keeps every digit. */
export function text(d: Dec, decimals?: number): string {
  return decimals === undefined ? d.toFixed() : d.toDecimalPlaces(decimals, D.ROUND_HALF_EVEN).toFixed();
}

/** Sum of decimals (0 for none). */
export function sum(values: Iterable<Dec>): Dec {
  let s = new D(0);
  for (const v of values) s = s.plus(v);
  return s;
}

/** Mass of CO2 per mass of carbon, 44/12 (molar masses 44.0095 and 12.011 rounded as every guideline does). */
export function co2FromCarbon(carbon: Dec): Dec {
  return carbon.times(44).div(12);
}
