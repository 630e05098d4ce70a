// Units of measure (core/domain/units.ts): exact rescaling within a dimension, never across.
import { describe, expect, it } from 'vitest';
import { dec, text } from '../../../core/domain/decimal.ts';
import { convert, dimensionOf, perUnitOf } from '../../../core/domain/units.ts';

describe('units of measure', () => {
  it('rescales exactly within a dimension', () => {
    expect(text(convert(dec('62000'), 'kg', 't')!)).toBe('62');
    expect(text(convert(dec('120000'), 'Nm³', '10^4 Nm³')!)).toBe('12');
    expect(text(convert(dec('310000'), 'kWh', 'MWh')!)).toBe('310');
    expect(text(convert(dec('65.5'), '%', '1')!)).toBe('0.655');
    expect(text(convert(dec('1.5'), 't', 't')!)).toBe('1.5');
  });

  it('never turns a volume into a mass, a rate into a quantity, or an unknown unit into anything', () => {
    expect(convert(dec('1'), 'Nm³', 't')).toBeUndefined();
    expect(convert(dec('1'), 'Nm³/h', 'Nm³')).toBeUndefined();
    expect(convert(dec('1'), 'm³', 'Nm³')).toBeUndefined();
    expect(dimensionOf('Nm³')).toBe('volume');
    expect(dimensionOf('bbl')).toBeUndefined();
  });

  it('reads what a factor applies to from its unit', () => {
    expect(perUnitOf('t CO2/t clinker')).toBe('t');
    expect(perUnitOf('GJ/10^4 Nm³')).toBe('10^4 Nm³');
    expect(perUnitOf('t CO2/MWh')).toBe('MWh');
    expect(perUnitOf('t C/GJ')).toBe('GJ');
    expect(perUnitOf('1')).toBeUndefined();
  });
});
