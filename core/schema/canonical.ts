/**
 * Canonical bytes of a batch: what `prevHash` chains and what `sig` signs (docs/architecture.md §4).
 * JSON with object keys sorted by UTF-16 code units at every depth, no whitespace, `sig` left out.
 * The rule follows the key-sorting part of RFC 8785 (JCS); numbers on the wire are integers only
 * (seq, v) and decimals travel as strings, so JCS number formatting is never needed.
 */
import type { Batch, GatewayMeta } from './wire.ts';

/** Serialises a JSON value with sorted keys and no whitespace. Throws on non-finite numbers. */
export function canonicalJson(value: unknown): string {
  // Fast path (bench/: this runs over every reading of every batch, on the gateway and the collector):
  // `JSON.stringify` with a property list writes, for every object at every depth, exactly the listed
  // keys it has, in the list's order. With the sorted union of all keys as the list that is the
  // canonical form, at native speed. It is taken only for plain data on which both agree (see
  // `sortedKeys`); anything else goes through the reference serialiser below.
  if (typeof value === 'object' && value !== null) {
    const keys = sortedKeys(value);
    if (keys !== undefined) return JSON.stringify(value, keys);
  }
  return canonicalJsonReference(value);
}

/** Largest key union the fast path takes: `JSON.stringify` looks up every listed key on every object. */
const MAX_FAST_KEYS = 64;

/**
 * The sorted union of the own keys of every object in `root`, or undefined when `JSON.stringify` with
 * that property list could differ from {@link canonicalJsonReference}: values it would skip, convert or
 * let pass where the reference throws (undefined in arrays, functions, symbols, bigints, non-finite
 * numbers), objects that are not plain (a prototype other than Object.prototype or null, or a `toJSON`,
 * e.g. Date, boxed primitives, Map), a `__proto__` key (looked up on every object), or more keys than
 * {@link MAX_FAST_KEYS}.
 */
function sortedKeys(root: object): string[] | undefined {
  // With nothing enumerable on Object.prototype, `for…in` over a plain object yields its own keys only.
  for (const _ in Object.prototype) return undefined;
  const seen = new Set<string>();
  // The keys of the previous object in `for…in` order: objects of one shape (the readings of a batch)
  // repeat them, so a key is looked up in `seen` only where it differs. Every entry is in `seen`.
  const last: string[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      if (typeof (node as { toJSON?: unknown }).toJSON === 'function') return undefined;
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        if (v === undefined || !plainValue(v)) return undefined;
        if (typeof v === 'object' && v !== null) stack.push(v);
      }
      continue;
    }
    const obj = node as Record<string, unknown>;
    const proto = Object.getPrototypeOf(obj);
    if ((proto !== Object.prototype && proto !== null) || typeof obj.toJSON === 'function') return undefined;
    let j = 0;
    for (const k in obj) {
      const v = obj[k];
      if (v === undefined) continue; // skipped by both
      if (!plainValue(v)) return undefined;
      if (last[j] !== k) {
        if (k === '__proto__') return undefined;
        if (!seen.has(k)) {
          if (seen.size === MAX_FAST_KEYS) return undefined;
          seen.add(k);
        }
        last[j] = k;
      }
      j++;
      if (typeof v === 'object' && v !== null) stack.push(v);
    }
  }
  // The default sort compares UTF-16 code units, the canonical order.
  return [...seen].sort();
}

/** A value both serialisers write the same way (objects and arrays are checked by the caller). */
function plainValue(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'object':
      return true;
    case 'number':
      return Number.isFinite(v);
    default:
      return false;
  }
}

/**
 * The definition of the canonical form, key by key (kept as the reference the fast path is tested
 * against, and used for values the fast path does not take).
 */
export function canonicalJsonReference(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJsonReference(value[i]);
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
      out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJsonReference(v)}`;
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

/** The UTF-8 canonical bytes of a gateway's catalogue without its `sig`: what the gateway signs (wire.ts `GatewayMeta`). */
export function canonicalMetaBytes(meta: GatewayMeta): Uint8Array {
  const { sig: _sig, ...unsigned } = meta;
  return new TextEncoder().encode(canonicalJson(unsigned));
}
