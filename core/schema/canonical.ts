/**
 * Canonical bytes of a batch: what `prevHash` chains and what `sig` signs (DESIGN.md §4).
 * JSON with object keys sorted by UTF-16 code units at every depth, no whitespace, `sig` left out.
 * The rule follows the key-sorting part of RFC 8785 (JCS); numbers on the wire are integers only
 * (seq, v) and decimals travel as strings, so JCS number formatting is never needed.
 */
import type { Batch } from './wire.ts';

/** Serialises a JSON value with sorted keys and no whitespace. Throws on non-finite numbers. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot serialise ${typeof value}`);
}

/** The UTF-8 canonical bytes of a batch without its `sig`. */
export function canonicalBytes(batch: Batch): Uint8Array {
  const { sig: _sig, ...unsigned } = batch;
  return new TextEncoder().encode(canonicalJson(unsigned));
}
