/**
 * Units of measure of key parameters and factors (issue 18 item 7): a quantity keeps the unit its
 * meter gives it from the point to the package, and is only ever rescaled within one dimension
 * (kg → t, Nm³ → 10^4 Nm³, kWh → MWh, % → fraction). A volume is never taken as a mass: that needs
 * a declared density (or an NCV per volume) with its source, which lives in the factor pack.
 *
 * Pure; every scale is an exact decimal.
 */
import { type Dec, dec } from './decimal.ts';

/** Dimensions the accounting knows. */
export type Dimension = 'mass' | 'volume' | 'energy' | 'heat' | 'fraction' | 'duration' | 'count';

/** Unit symbol → dimension and factor to the dimension's base unit (t, Nm³, MWh, GJ, 1, s, count). */
const UNITS: Readonly<Record<string, { dim: Dimension; toBase: string }>> = {
  t: { dim: 'mass', toBase: '1' },
  kg: { dim: 'mass', toBase: '0.001' },
  kt: { dim: 'mass', toBase: '1000' },
  // Normal cubic metres (0 °C, 101.325 kPa); "m³" on a gas flowmeter is taken as what it says, not as Nm³.
  'Nm³': { dim: 'volume', toBase: '1' },
  Nm3: { dim: 'volume', toBase: '1' },
  'kNm³': { dim: 'volume', toBase: '1000' },
  '10^4 Nm³': { dim: 'volume', toBase: '10000' },
  MWh: { dim: 'energy', toBase: '1' },
  kWh: { dim: 'energy', toBase: '0.001' },
  GWh: { dim: 'energy', toBase: '1000' },
  GJ: { dim: 'heat', toBase: '1' },
  MJ: { dim: 'heat', toBase: '0.001' },
  TJ: { dim: 'heat', toBase: '1000' },
  '1': { dim: 'fraction', toBase: '1' },
  't/t': { dim: 'fraction', toBase: '1' },
  '%': { dim: 'fraction', toBase: '0.01' },
  s: { dim: 'duration', toBase: '1' },
  cell·s: { dim: 'duration', toBase: '1' },
  count: { dim: 'count', toBase: '1' },
};

/** The dimension of a unit symbol, or undefined for a symbol the table does not know. */
export function dimensionOf(unit: string): Dimension | undefined {
  return UNITS[unit.trim()]?.dim;
}

/**
 * Rescales a quantity from one unit to another of the same dimension, exactly.
 * @returns the value in `to`, or undefined when either unit is unknown or the dimensions differ
 *   (a mass is never turned into a volume here)
 */
export function convert(value: Dec, from: string, to: string): Dec | undefined {
  const a = UNITS[from.trim()];
  const b = UNITS[to.trim()];
  if (!a || !b || a.dim !== b.dim) return undefined;
  if (from.trim() === to.trim()) return value;
  return value.times(dec(a.toBase)).div(dec(b.toBase));
}

/**
 * The quantity unit a factor applies to: the unit after the first `/` of the factor's unit, up to the
 * first word that is not part of the symbol (`t CO2/t clinker` → `t`, `GJ/10^4 Nm³` → `10^4 Nm³`).
 * @returns the symbol, or undefined when the factor's unit has no `/` or an unknown denominator
 */
export function perUnitOf(factorUnit: string): string | undefined {
  const i = factorUnit.indexOf('/');
  if (i < 0) return undefined;
  const den = factorUnit.slice(i + 1).trim();
  const known = Object.keys(UNITS).sort((x, y) => y.length - x.length);
  return known.find((u) => den === u || den.startsWith(`${u} `));
}
