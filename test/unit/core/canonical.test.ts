// The canonical JSON of core/schema/canonical.ts: its fast path (JSON.stringify with a sorted property
// list) must give byte-identical output to the key-by-key definition, which the collector, `mrv verify`
// and every stored signature depend on.
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson, canonicalJsonReference } from '../../../core/schema/canonical.ts';
import type { Batch, Reading } from '../../../core/schema/wire.ts';
import { batchHash, signBatch } from '../../../core/signing.ts';
import { Prng } from '../../../simulators/prng.ts';

/** The implementation before the fast path, verbatim (commit 9e8c7c7), as a second reference. */
function canonicalJsonBefore(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJsonBefore(value[i]);
    return `${out}]`;
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    let out = '{';
    for (const k of keys) {
      const v = obj[k];
      if (v === undefined) continue;
      out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJsonBefore(v)}`;
    }
    return `${out}}`;
  }
  throw new TypeError(`canonicalJson: cannot serialise ${typeof value}`);
}

/** Outcome of a serialiser: its string, or the class and message of what it threw. */
function outcome(f: (v: unknown) => string, v: unknown): string {
  try {
    return `ok:${f(v)}`;
  } catch (err) {
    return `throw:${(err as Error).constructor.name}:${(err as Error).message}`;
  }
}

/** Deterministic uniform draws in [0, 1) (simulators/prng.ts), so a failure can be reproduced. */
function rng(seed: number): () => number {
  const g = new Prng(seed);
  return () => g.uniform();
}

const KEY_POOL = [
  'a',
  'b',
  'B',
  'aa',
  'a0',
  '0',
  '1',
  '10',
  '9',
  '',
  ' ',
  'é',
  'e\u0301',
  'Z',
  '_',
  '$',
  '\u00ff',
  '\u0100',
  '\ud83d\ude00',
  '\uffff',
  '\ud800',
  'value',
  'point',
  'ts',
  'rxTs',
  'quality',
  'meter',
  'reason',
  'seq',
  'v',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'length',
  'toJSON_',
  '"q"',
  'line\nbreak',
  '\\',
];
const STRING_POOL = [
  '',
  'x',
  '412.5',
  '-0.001',
  '\u0000',
  '\ud800',
  '\ud83d\ude00',
  '"',
  '\\',
  '\u2028',
  '中文',
  'a\tb',
];

function randomValue(r: () => number, depth: number): unknown {
  const k = r();
  if (depth > 3 || k < 0.35) {
    const p = r();
    if (p < 0.5) return STRING_POOL[Math.floor(r() * STRING_POOL.length)];
    if (p < 0.7) return Math.floor(r() * 2000) - 1000;
    if (p < 0.8) return r() * 1e6 - 5e5;
    if (p < 0.9) return r() < 0.5;
    return null;
  }
  if (k < 0.55) return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 7);
  for (let i = 0; i < n; i++) {
    const key = KEY_POOL[Math.floor(r() * KEY_POOL.length)] as string;
    o[key] = r() < 0.1 ? undefined : randomValue(r, depth + 1);
  }
  return o;
}

function reading(i: number, r: () => number): Reading {
  const ts = new Date(1_790_000_000_000 + i).toISOString();
  const q = r();
  if (q < 0.1)
    return { point: `d.p${i}`, ts, rxTs: ts, value: null, quality: 'bad', reason: 'MRV_E_DECODE: x' };
  if (q < 0.3)
    return { point: `d.p${i}`, meter: 'm1', ts, rxTs: ts, value: String(r() * 1000), quality: 'good' };
  if (q < 0.4)
    return {
      point: `d.p${i}`,
      ts,
      rxTs: ts,
      serverTs: ts,
      value: String(i),
      quality: 'uncertain',
      reason: 'r',
    };
  return { point: `d.p${i}`, ts, rxTs: ts, value: (r() * 100).toFixed(3), quality: 'good' };
}

describe('canonicalJson', () => {
  it('equals the key-by-key definition on 20 000 random JSON values (non-ASCII, astral and lone-surrogate keys, numeric keys, undefined members)', () => {
    const r = rng(7);
    for (let i = 0; i < 20_000; i++) {
      const v = randomValue(r, 0);
      const expected = outcome(canonicalJsonBefore, v);
      expect(outcome(canonicalJson, v)).toBe(expected);
      expect(outcome(canonicalJsonReference, v)).toBe(expected);
    }
  });

  it('equals the definition on batches as gateways send them, and canonicalBytes is its UTF-8', () => {
    const r = rng(11);
    for (let n = 0; n < 200; n++) {
      const batch: Batch = {
        v: 1,
        unitId: 'U1',
        gatewayId: 'gw1',
        seq: n + 1,
        prevHash: '0'.repeat(64),
        sentAt: '2026-01-01T00:00:00.000+08:00',
        ...(n % 2 ? { device: 'd1' } : {}),
        readings: Array.from({ length: Math.floor(r() * 700) }, (_, i) => reading(i, r)),
        ...(n % 3 ? { sig: 'c2ln' } : {}),
      };
      const { sig: _s, ...unsigned } = batch;
      const expected = canonicalJsonBefore(unsigned);
      expect(canonicalJson(unsigned)).toBe(expected);
      expect(Buffer.from(canonicalBytes(batch)).toString('utf8')).toBe(expected);
      expect(Buffer.from(canonicalBytes(batch)).equals(Buffer.from(expected, 'utf8'))).toBe(true);
    }
  });

  it('gives what the reference gives (or throws what it throws) for values the fast path refuses', () => {
    class Point {
      x = 1;
    }
    const proto = Object.create({ inherited: 'yes' }) as Record<string, unknown>;
    proto.own = 1;
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: [null, 'x'] });
    const withProtoKey = JSON.parse('{"__proto__": {"a": 1}, "b": 2}') as unknown;
    const manyKeys = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, { v: i }]));
    const cases: unknown[] = [
      { d: new Date(0) },
      { n: Number.NaN },
      { n: Number.POSITIVE_INFINITY },
      [1, undefined, 2],
      // biome-ignore lint/suspicious/noSparseArray: a hole must behave as the reference (throws)
      [1, , 2],
      { f: () => 1 },
      { s: Symbol('s') },
      { b: 10n },
      [() => 1],
      { m: new Map([['a', 1]]) },
      { s: new String('ab') },
      { t: { toJSON: () => 'x' } },
      new Point(),
      { p: new Point() },
      proto,
      nullProto,
      withProtoKey,
      manyKeys,
      { x: -0, y: 1e21, z: 1e-7, w: 0.1 },
      [],
      {},
      { a: undefined },
      [[[[{ z: 1, a: 2 }]]]],
    ];
    for (const v of cases) expect(outcome(canonicalJson, v)).toBe(outcome(canonicalJsonBefore, v));
  });

  it('keeps signatures and chain hashes of the same batch unchanged', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const batch: Batch = {
      v: 1,
      unitId: 'U1',
      gatewayId: 'gw1',
      seq: 3,
      prevHash: 'a'.repeat(64),
      sentAt: '2026-01-01T00:00:00.000Z',
      readings: [reading(1, rng(1)), reading(2, rng(2))],
    };
    const signed = signBatch(batch, privateKey);
    const before = Buffer.from(canonicalJsonBefore(batch), 'utf8');
    expect(signed.sig).toBe(sign(null, before, privateKey).toString('base64'));
    expect(batchHash(signed)).toBe(batchHash(batch));
  });
});
