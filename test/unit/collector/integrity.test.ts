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

  it('records a declared configuration change (hot reload) as MRV_F_CONFIG_CHANGED, not for a forged batch', async () => {
    const [b] = chain(1);
    const config = {
      hash: 'b'.repeat(64),
      previous: 'a'.repeat(64),
      added: ['feeder-c'],
      removed: [],
      changed: ['potline'],
    };
    const forged = { ...(b as Batch), config, sig: 'AAAA' };
    expect(codes(await take([forged]))).toEqual(['MRV_F_BAD_SIGNATURE']);
    const declared = signBatch({ ...(b as Batch), config }, pair.privateKey);
    const plan = await take([declared]);
    expect(codes(plan)).toEqual(['MRV_F_CONFIG_CHANGED']);
    expect(plan.findings[0]).toMatchObject({
      severity: 'info',
      class: 'configuration',
      detail: { seq: 1, ...config },
    });
    expect(plan.findings[0]?.message.en).toContain('added feeder-c, removed —, changed potline');
    expect(plan.rows).toHaveLength((b as Batch).readings.length);
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

  it('checks a device clock on serverTs where a reading has one: a ticket weighed hours before it was read is no skew', async () => {
    const [, b2, b3] = chain(3);
    const r = (b2 as Batch).readings[0]!;
    // A ticket from a terminal's memory read after a 3 h outage: ts = weighing time, serverTs = read time.
    const backfilled = signBatch(
      {
        ...(b2 as Batch),
        readings: [{ ...r, ts: iso(Date.parse(r.rxTs) - 3 * 3_600_000), serverTs: r.rxTs }],
      },
      pair.privateKey,
    );
    // The same with a device serving time an hour off is still a skew.
    const r3 = (b3 as Batch).readings[0]!;
    const off = signBatch(
      { ...(b3 as Batch), readings: [{ ...r3, serverTs: iso(Date.parse(r3.rxTs) - 3_600_000) }] },
      pair.privateKey,
    );
    const plan = await take([chain(1)[0] as Batch, backfilled, off]);
    const skews = plan.findings.filter((f) => f.code === 'MRV_F_CLOCK_SKEW');
    expect(skews.map((f) => f.detail.seq)).toEqual([3]);
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

describe('IntegrityChecker: unverified batches are quarantined (issue 17 item 3)', () => {
  let store: SqliteStore;
  let checker: IntegrityChecker;
  const opts = { keys, replayWindowMs: 60_000, maxClockSkewMs: 60_000 };
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    checker = new IntegrityChecker(opts);
  });
  afterEach(() => store.stop());

  async function take(batches: Batch[], receivedAt = T0 + 100_000) {
    const items: ReceivedBatch[] = batches.map((batch) => ({ batch, receivedAt }));
    const plan = await checker.plan(items, store, receivedAt);
    await store.writeReadings(plan.rows);
    await store.writeFindings(plan.findings);
    await store.archiveBatches(plan.archive);
    checker.commit(plan);
    return plan;
  }
  const values = async () =>
    (await store.rawReadings({ unitId: 'U1', pointId: 'p1', from: 0, to: T0 + 86_400_000 })).map((r) => [
      r.value,
      r.quality,
      r.seq,
    ]);
  /** A batch with the times of batch `like` of `c`, its value replaced, re-signed with `key` (or unsigned). */
  const forge = (
    like: Batch,
    seq: number,
    value: string,
    key?: typeof other.privateKey,
    gatewayId?: string,
  ) => {
    const { sig: _s, ...b } = { ...like, seq, gatewayId: gatewayId ?? like.gatewayId };
    const body = { ...b, readings: [{ ...(like.readings[0] as Batch['readings'][number]), value }] };
    return key === undefined ? (body as Batch) : signBatch(body, key);
  };

  it('unsigned, wrongly signed and unknown-gateway batches with verified times change no reading', async () => {
    const c = chain(3);
    await take(c);
    const before = await values();
    expect(before).toEqual([
      ['10', 'good', 1],
      ['20', 'good', 2],
      ['30', 'good', 3],
    ]);
    const plan = await take([
      forge(c[1] as Batch, 4, '777777'), // unsigned, next seq
      forge(c[2] as Batch, 5, '555555', other.privateKey), // wrong key
      forge(c[0] as Batch, 1, '333333', other.privateKey, 'gw-rogue'), // unknown gateway
    ]);
    expect(plan.findings.map((f) => f.code)).toEqual([
      'MRV_F_BAD_SIGNATURE',
      'MRV_F_BAD_SIGNATURE',
      'MRV_F_UNKNOWN_KEY',
    ]);
    expect(plan.stored).toEqual([]); // nothing for the live feed
    expect(await values()).toEqual(before);
    const q = await store.listQuarantine({ unitId: 'U1', from: 0, to: T0 + 86_400_000 });
    expect(q.map((r) => [r.gatewayId, r.value, r.seq, r.cause])).toEqual([
      ['gw-rogue', '333333', 1, 'MRV_F_UNKNOWN_KEY'],
      ['gw1', '777777', 4, 'MRV_F_BAD_SIGNATURE'],
      ['gw1', '555555', 5, 'MRV_F_BAD_SIGNATURE'],
    ]);
    // The chain goes on from the genuine head: 4 and 5 of the gateway are new, not conflicts or gaps.
    const more = signedChain(5, pair.privateKey).slice(3);
    const next = await take(more);
    expect(next.findings.map((f) => [f.code, f.detail.kept])).toEqual([
      ['MRV_F_SEQ_CONFLICT', 'received'],
      ['MRV_F_SEQ_CONFLICT', 'received'],
    ]);
    expect((await values()).map((v) => v[0])).toEqual(['10', '20', '30', '40', '50']);
    expect(checker.gapsDue).toBe(false);
  });

  it('a forged high seq moves no head and raises no gap, before and after a restart', async () => {
    const c = chain(6);
    await take(c.slice(0, 2));
    const high = forge(c[1] as Batch, 896_599, '777777');
    const plan = await take([high]);
    expect(plan.heads.size).toBe(0);
    expect(plan.findings.map((f) => f.code)).toEqual(['MRV_F_BAD_SIGNATURE']);
    await take([c[2] as Batch]);
    expect(checker.gapsDue).toBe(false);
    expect(await checker.dueGaps(store, T0 + 200_000)).toEqual([]);
    expect(await store.batchHeads()).toEqual([
      { unitId: 'U1', gatewayId: 'gw1', seq: 3, hash: batchHash(c[2] as Batch) },
    ]);
    // A restarted collector resumes from seq 3, not from the forgery.
    checker = new IntegrityChecker(opts);
    const after = await take(c.slice(3));
    expect(after.findings).toEqual([]);
    expect(after.heads.get('U1/gw1')?.seq).toBe(6);
    expect(checker.gapsDue).toBe(false);
    expect(await store.listFindings('U1', 0, T0 + 86_400_000, { code: 'MRV_F_SEQ_GAP' })).toEqual([]);
  });

  it('forged-then-genuine leaves only the genuine reading, the forgery kept in the conflict and quarantine', async () => {
    const c = chain(3);
    await take(c.slice(0, 2));
    const forged = forge(c[2] as Batch, 3, '777777', other.privateKey);
    await take([forged]);
    // Restart between the two: the forged 3 is known from the archive only.
    checker = new IntegrityChecker(opts);
    const genuine = await take([c[2] as Batch]);
    expect(genuine.findings.map((f) => [f.code, f.detail.kept])).toEqual([
      ['MRV_F_SEQ_CONFLICT', 'received'],
    ]);
    expect(
      JSON.parse(
        String((genuine.findings[0]?.detail.other as { canonical?: string } | undefined)?.canonical),
      ),
    ).toMatchObject({
      seq: 3,
      readings: [{ value: '777777' }],
    });
    expect((await values()).map((v) => v[0])).toEqual(['10', '20', '30']);
    expect((await store.listBatches({ unitId: 'U1', gatewayId: 'gw1', fromSeq: 3 }))[0]?.verdict).toBe(
      'verified',
    );
    expect(
      (await store.listQuarantine({ unitId: 'U1', from: 0, to: T0 + 86_400_000 })).map((r) => r.value),
    ).toEqual(['777777']);
  });

  it('confirms to the gateway only seqs it holds a trusted copy of, never a forgery claiming its seq', async () => {
    const c = chain(3);
    const first = await take(c.slice(0, 2));
    expect(first.confirmed.map((b) => b.batch.seq)).toEqual([1, 2]);
    // A forgery with gw1's next seq: quarantined, and not confirmed, so gw1 keeps its genuine 3.
    const forged = await take([forge(c[2] as Batch, 3, '777777', other.privateKey)]);
    expect(forged.confirmed).toEqual([]);
    // A redelivery of a trusted batch is confirmed again (the gateway sent it because it lacks one).
    const again = await take([c[1] as Batch]);
    expect(again.confirmed.map((b) => b.batch.seq)).toEqual([2]);
    // The genuine 3 supersedes the forgery and is confirmed.
    const genuine = await take([c[2] as Batch]);
    expect(genuine.confirmed.map((b) => b.batch.seq)).toEqual([3]);
    // A second forgery of 3, now that the genuine one is stored: that seq is held, trusted.
    const late = await take([forge(c[2] as Batch, 3, '555555', other.privateKey)]);
    expect(late.confirmed.map((b) => b.batch.seq)).toEqual([3]);
  });
});
