// Number formatting of the dashboard, pure (no DOM), so that it is tested in Node as well.

/** Significant digits shown for a value (the exact decimal string stays in the API and the evidence). */
const SHOWN_DIGITS = 10;

/**
 * A reading's value for the table: as stored, unless it carries more significant digits than a meter
 * resolves (an OPC UA Double's 17, "20221.645241796603"): then rounded to {@link SHOWN_DIGITS}
 * significant digits, marked "≈"; the row's title shows the exact value.
 */
export function displayValue(value) {
  const digits = value.replace(/^-/, '').replace('.', '').replace(/^0+/, '').length;
  if (digits <= SHOWN_DIGITS || !/^-?\d+(\.\d+)?$/.test(value)) return value;
  const intDigits = value.replace(/^-/, '').split('.')[0].replace(/^0+/, '').length;
  const places = Math.max(0, SHOWN_DIGITS - intDigits);
  return `≈${Number(value)
    .toFixed(places)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '')}`;
}
