// The collector's integrity policy (collector/integrity.ts) against the embedded store: every bad input
// of issue 4's catalogue that concerns batches gives its named finding, and nothing is dropped.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityChecker, type ReceivedBatch } from '../../../collector/integrity.ts';
import { keyRegistry } from '../../../collector/keys.ts';
import { SqliteStore } from '../../../collector/sqlite-store.ts';
import type { Batch } from '../../../core/schema/wire.ts';
import { batchHash, signBatch } from '../../../core/signing.ts';
import { signedChain } from '../../helpers/signed-chain.ts';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const pair = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const keys = keyRegistry([
  {
    gatewayId: 'gw1',
    unitId: 'U1',
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  },
]);

/** A signed chain of `n` batches of gw1 (one reading each), starting at seq 1. */
const chain = (n: number): Batch[] => signedChain(n, pair.privateKey);

describe('IntegrityChecker', () => {
  let store: SqliteStore;
  let checker: IntegrityChecker;
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    checker = new IntegrityChecker({ keys, replayWindowMs: 60_000, maxClockSkewMs: 60_000 });
  });
  afterEach(() => store.stop());

  /** Plans, writes and commits like the collector does; returns the plan. */
  async function take(batches: Batch[], receivedAt = T0 + 100_000) {
    const items: ReceivedBatch[] = batches.map((batch) => ({ batch, receivedAt }));
    const plan = await checker.plan(items, store, receivedAt);
    await store.writeReadings(plan.rows);
    await store.writeFindings(plan.findings);
    await store.archiveBatches(plan.archive);
    checker.commit(plan);
    return plan;
  }
  const codes = (plan: { findings: { code: string }[] }) => plan.findings.map((f) => f.code);

  it('stores a good signed chain verified, with no finding', async () => {
    const plan = await take(chain(5));
    expect(codes(plan)).toEqual([]);
    expect(plan.rows).toHaveLength(5);
    const archived = await store.listBatches({ unitId: 'U1', gatewayId: 'gw1' });
    expect(archived.map((b) => [b.seq, b.verdict])).toEqual([1, 2, 3, 4, 5].map((s) => [s, 'verified']));
  });

  it('writes a redelivered batch once, and a redelivery long after as MRV_F_REPLAY', async () => {
    const c = chain(3);
    await take(c);
    const again = await take([c[1] as Batch, c[2] as Batch], T0 + 100_000 + 5_000);
    expect(again).toMatchObject({ duplicates: 2, rows: [], archive: [] });
    expect(codes(again)).toEqual([]);
    const late = await take([c[0] as Batch], T0 + 100_000 + 3_600_000);
    expect(late.duplicates).toBe(1);
    expect(codes(late)).toEqual(['MRV_F_REPLAY']);
    expect(late.findings[0]?.message.en).toMatch(/old batch 1 received again/);
  });

  it('raises MRV_F_SEQ_GAP naming the missing range, and keeps the batches after it', async () => {
    const c = chain(8);
    await take(c.slice(0, 2));
    const plan = await take(c.slice(5));
    // Not at arrival (the batches may still be queued on the backlog topic): when the collector says
    // nothing more can come (its backlog session quiet), with the same id and date.
    expect(codes(plan)).toEqual([]);
    expect(checker.gapsDue).toBe(true);
    const due = await checker.dueGaps(store, T0 + 200_000);
    expect(due.map((f) => f.code)).toEqual(['MRV_F_SEQ_GAP']);
    expect(due[0]).toMatchObject({
      id: 'integrity/U1/gw1/MRV_F_SEQ_GAP/3-5',
      ts: (c[5] as Batch).readings[0]?.ts,
      detail: { from: 3, to: 5, missing: 3, before: 2, after: 6 },
      severity: 'error',
      source: 'integrity',
    });
    expect(checker.gapsDue).toBe(false);
    expect(due[0]?.message).toEqual({
      zh: '网关 gw1 的批次 3–5 缺失（共 3 批）',
      en: 'gateway gw1: batches 3..5 are missing (3 batches)',
    });
    expect(plan.rows).toHaveLength(3);
    // A late batch filling the gap is stored and checked against its predecessor.
    const late = await take([c[2] as Batch]);
    expect(late.rows).toHaveLength(1);
    expect(codes(late)).toEqual([]);
  });

  it('stores a batch with a wrong signature as uncertain with MRV_F_BAD_SIGNATURE, never drops it', async () => {
    const [b1] = chain(1);
    const forged = { ...(b1 as Batch), readings: [{ ...(b1 as Batch).readings[0]!, value: '99999' }] };
    const plan = await take([forged]);
    expect(codes(plan)).toEqual(['MRV_F_BAD_SIGNATURE']);
    expect(plan.rows[0]).toMatchObject({
      value: '99999',
      quality: 'uncertain',
      reason: expect.stringMatching(/^MRV_F_BAD_SIGNATURE/),
    });
    expect(plan.archive[0]).toMatchObject({ verdict: 'failed', findings: ['MRV_F_BAD_SIGNATURE'] });
    expect(plan.verificationFailures).toBe(1);
    const signedByOther = signBatch(
      { ...(b1 as Batch), seq: 2, prevHash: batchHash(forged) },
      other.privateKey,
    );
    expect(codes(await take([signedByOther]))).toEqual(['MRV_F_BAD_SIGNATURE']);
    const unsigned = { ...(b1 as Batch), seq: 3, sig: undefined };
    const u = await take([unsigned]);
    expect(u.findings[0]?.message.en).toMatch(/batch 3 is not signed/);
    const stored = await store.listFindings('U1', 0, T0 + 10_000_000, { code: 'MRV_F_BAD_SIGNATURE' });
    expect(stored).toHaveLength(3);
  });

  it('raises MRV_F_UNKNOWN_KEY for a gateway without a registered key', async () => {
    const b = signBatch({ ...(chain(1)[0] as Batch), gatewayId: 'gw-unknown' }, other.privateKey);
    const plan = await take([b]);
    expect(codes(plan)).toEqual(['MRV_F_UNKNOWN_KEY']);
    expect(plan.rows[0]?.quality).toBe('uncertain');
  });

  it('raises MRV_F_CHAIN_BROKEN when prevHash is not the hash of the previous batch', async () => {
    const c = chain(2);
    await take([c[0] as Batch]);
    const broken = signBatch({ ...(c[1] as Batch), prevHash: 'f'.repeat(64) }, pair.privateKey);
    const plan = await take([broken]);
    expect(codes(plan)).toEqual(['MRV_F_CHAIN_BROKEN']);
    expect(plan.findings[0]?.severity).toBe('critical');
    expect(plan.rows[0]?.quality).toBe('good'); // authentic (signed) but the chain before it is suspect
  });

  it('keeps the stored version of a seq and the conflicting one whole in MRV_F_SEQ_CONFLICT', async () => {
    const c = chain(2);
    await take(c);
    const other2 = signBatch(
      { ...(c[1] as Batch), readings: [{ ...(c[1] as Batch).readings[0]!, value: '1' }] },
      pair.privateKey,
    );
    const plan = await take([other2]);
    expect(codes(plan)).toEqual(['MRV_F_SEQ_CONFLICT']);
    expect(plan.rows).toEqual([]);
    expect(plan.findings[0]?.detail).toMatchObject({ kept: 'stored', other: { sig: other2.sig } });
    // A verified version replaces an unverified stored one with other content...
    const genuine3 = chain(3)[2] as Batch;
    const forged3 = { ...genuine3, readings: [{ ...genuine3.readings[0]!, value: '7' }] };
    expect(codes(await take([forged3]))).toEqual(['MRV_F_BAD_SIGNATURE']);
    const fix = await take([genuine3]);
    expect(codes(fix)).toEqual(['MRV_F_SEQ_CONFLICT']);
    expect(fix.findings[0]?.detail).toMatchObject({
      kept: 'received',
      other: { canonical: expect.stringContaining('"7"') },
    });
    expect(fix.rows[0]).toMatchObject({ value: '30', quality: 'good' });
    expect((await store.listBatches({ unitId: 'U1', gatewayId: 'gw1', fromSeq: 3 }))[0]?.verdict).toBe(
      'verified',
    );
    // ... and a copy with the same bytes but a bad signature published first.
    const genuine4 = chain(4)[3] as Batch;
    await take([{ ...genuine4, sig: 'AAAA' }]);
    const up = await take([genuine4]);
    expect(codes(up)).toEqual([]);
    expect(up.rows[0]?.quality).toBe('good');
    expect((await store.listBatches({ unitId: 'U1', gatewayId: 'gw1', fromSeq: 4 }))[0]?.verdict).toBe(
      'verified',
    );
  });

  it('raises MRV_F_CLOCK_SKEW for a gateway clock ahead and a device clock far off, storing the readings', async () => {
    const [b] = chain(1);
    const ahead = signBatch({ ...(b as Batch), sentAt: iso(T0 + 100_000 + 3_600_000) }, pair.privateKey);
    const plan = await take([ahead]);
    expect(codes(plan)).toEqual(['MRV_F_CLOCK_SKEW']);
    expect(plan.findings[0]?.detail).toMatchObject({ what: 'gateway ahead of collector' });
    const [, b2] = chain(2);
    const devOff = signBatch(
      { ...(b2 as Batch), readings: [{ ...(b2 as Batch).readings[0]!, ts: iso(T0 - 86_400_000) }] },
      pair.privateKey,
    );
    const p2 = await take([devOff]);
    expect(p2.findings.map((f) => f.detail.what)).toContain('device clock far from gateway clock');
    expect(p2.rows).toHaveLength(1);
  });

  it('resumes the chain from the archive after a restart (a new checker on the same store)', async () => {
    const c = chain(4);
    await take(c.slice(0, 2));
    checker = new IntegrityChecker({ keys });
    const plan = await take(c.slice(2));
    expect(codes(plan)).toEqual([]);
    const again = await take([c[1] as Batch]);
    expect(again.duplicates).toBe(1);
  });

  it('marks batches "unchecked" when no key registry is configured', async () => {
    checker = new IntegrityChecker();
    const plan = await take(chain(2));
    expect(plan.archive.map((a) => a.verdict)).toEqual(['unchecked', 'unchecked']);
    expect(codes(plan)).toEqual([]);
  });
});
