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
  // Plain loops and string appends: this runs over every reading of every batch, twice a batch on a
  // gateway and once on the collector (bench/: it was a quarter of the gateway's CPU).
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // The default sort compares UTF-16 code units, the canonical order.
    const keys = Object.keys(obj).sort();
    let out = '{';
    for (const k of keys) {
      const v = obj[k];
      if (v === undefined) continue;
      out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    }
    return `${out}}`;
  }
  throw new TypeError(`canonicalJson: cannot serialise ${typeof value}`);
}

/** The UTF-8 canonical bytes of a batch without its `sig`. */
export function canonicalBytes(batch: Batch): Uint8Array {
  const { sig: _sig, ...unsigned } = batch;
  return new TextEncoder().encode(canonicalJson(unsigned));
}
