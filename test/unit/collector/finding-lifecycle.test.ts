// The lifecycle of gap and broken-link findings (collector/finding-lifecycle.ts): raised while batches
// were still on their way, then resolved (or updated with what is still missing) once they are stored,
// by a sole collector (integrity.ts + the review the collector runs after a write) and by the chain audit
// of collectors sharing one subscription. One embedded store stands for the database.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChainAudit } from '../../../collector/chain-audit.ts';
import { reviewGateway } from '../../../collector/finding-lifecycle.ts';
import { IntegrityChecker, type ReceivedBatch } from '../../../collector/integrity.ts';
import { keyRegistry } from '../../../collector/keys.ts';
import { SqliteStore } from '../../../collector/sqlite-store.ts';
import type { Finding } from '../../../core/schema/finding.ts';
import type { Batch } from '../../../core/schema/wire.ts';
import { signBatch } from '../../../core/signing.ts';
import { signedChain } from '../../helpers/signed-chain.ts';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const pair = generateKeyPairSync('ed25519');
const rogue = generateKeyPairSync('ed25519');
const keys = keyRegistry([
  {
    gatewayId: 'gw1',
    unitId: 'U1',
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  },
]);
const chain = (n: number, backlog: Record<number, number> = {}): Batch[] =>
  signedChain(n, pair.privateKey, { backlog });
const GAP = 'integrity/U1/gw1/MRV_F_SEQ_GAP';

let store: SqliteStore;
beforeEach(async () => {
  store = new SqliteStore({ path: ':memory:' });
  await store.start();
});
afterEach(() => store.stop());

const findings = (code?: string) =>
  store.listFindings('U1', 0, T0 + 86_400_000, code === undefined ? {} : { code });
const byId = async (id: string) => (await findings()).find((f) => f.id === id);

describe('a sole collector', () => {
  let checker: IntegrityChecker;
  beforeEach(() => {
    checker = new IntegrityChecker({ keys });
  });

  /**
   * Like the collector: per batch, plan, write, commit; report the holes that stay missing; then review
   * the gateways whose findings the stored batches may have closed. Returns what was raised or rewritten.
   */
  async function take(c: readonly Batch[], seqs: number[], at: number): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const seq of seqs) {
      const items: ReceivedBatch[] = [{ batch: c[seq - 1] as Batch, receivedAt: at }];
      const plan = await checker.plan(items, store, at);
      await store.writeReadings(plan.rows);
      await store.writeFindings(plan.findings);
      await store.archiveBatches(plan.archive);
      checker.commit(plan);
      out.push(...plan.findings);
      for (const gw of checker.reviewsDue) {
        const [unitId, gatewayId] = gw.split('/') as [string, string];
        const review = await reviewGateway(store, unitId, gatewayId, at);
        await store.writeFindings(review.findings);
        checker.reviewed(gw, review.open);
        out.push(...review.findings);
      }
    }
    const due = await checker.dueGaps(store, at);
    await store.writeFindings(due);
    out.push(...due);
    return out;
  }

  it('resolves a reported gap when its batches arrive late, saying what is missing until then', async () => {
    // Batch 6 was made when the gateway held nothing below 6: 3..5 are reported missing.
    const c = chain(8, { 6: 6 });
    const raised = await take(c, [1, 2, 6], T0 + 100_000);
    expect(raised.map((f) => [f.id, f.state ?? 'open'])).toEqual([[`${GAP}/3-5`, 'open']]);

    // 3 and 4 come late (re-sent after the store acknowledged nothing of them): still open, 5 missing.
    const partly = await take(c, [3, 4], T0 + 200_000);
    expect(partly.map((f) => f.id)).toEqual([`${GAP}/3-5`, `${GAP}/3-5`]);
    const open = await byId(`${GAP}/3-5`);
    expect(open?.state ?? 'open').toBe('open');
    expect(open?.detail).toMatchObject({
      from: 3,
      to: 5,
      remaining: [[5, 5]],
      stillMissing: 1,
      arrived: [[3, 4]],
    });
    expect(open?.message.en).toMatch(/3\.\.4 arrived late, still missing: 5 \(1 batch\)/);
    expect(open?.message.zh).toMatch(/仍缺 5（1 批）/);
    expect(await store.listOpenFindings('U1', 'MRV_F_SEQ_GAP')).toHaveLength(1);

    // 5 arrives: resolved, with the time and the seqs that closed it.
    await take(c, [5], T0 + 300_000);
    const done = await byId(`${GAP}/3-5`);
    expect(done).toMatchObject({
      state: 'resolved',
      resolvedAt: iso(T0 + 300_000),
      resolution: {
        by: 'late-batches',
        seqs: [[3, 5]],
        detail: { lastReceivedAt: iso(T0 + 300_000), brokenLinks: [] },
      },
    });
    expect(done?.resolution?.message.en).toMatch(/batches 3\.\.5 arrived late .*the hash chain links verify/);
    // Its message is the gap as raised again (the "still missing" of the update no longer holds).
    expect(done?.message).toEqual(raised[0]?.message);
    expect(done?.detail).toMatchObject({ remaining: [], stillMissing: 0, arrived: [[3, 5]] });
    expect(done?.resolution?.message.zh).toMatch(/批次 3–5 已迟到补齐.*哈希链衔接校验通过/);
    expect(await store.listOpenFindings('U1', 'MRV_F_SEQ_GAP')).toEqual([]);
    // The whole month's findings: that one gap, resolved; nothing else.
    expect((await findings()).map((f) => [f.code, f.state])).toEqual([['MRV_F_SEQ_GAP', 'resolved']]);

    // Later batches (and the review they ask for) change nothing.
    expect(await take(c, [7, 8], T0 + 400_000)).toEqual([]);
  });

  it('asks for no review while a gateway with nothing open drains its backlog', async () => {
    const c = chain(10, { 8: 4, 9: 4 }); // 4..7 wait in the gateway's log, sent behind 8 and 9
    let queries = 0;
    const list = store.listOpenFindings.bind(store);
    store.listOpenFindings = (...args) => {
      queries++;
      return list(...args);
    };
    expect(await take(c, [1, 2, 3, 8, 9, 4, 5, 6, 7, 10], T0 + 100_000)).toEqual([]);
    expect(queries).toBe(2); // the review at the gateway's first batch since start, nothing after
  });

  it('does not raise the rest of a partly filled gap again after a restart', async () => {
    const c = chain(9, { 6: 6, 9: 9 });
    await take(c, [1, 2, 6], T0 + 100_000);
    await take(c, [3, 4], T0 + 200_000);
    // Restarted: the hole at 5 is found again in the archive and released by 9's backlogFrom.
    checker = new IntegrityChecker({ keys });
    expect(await take(c, [7, 8, 9], T0 + 300_000)).toEqual([]);
    expect((await findings('MRV_F_SEQ_GAP')).map((f) => [f.id, f.detail.remaining])).toEqual([
      [`${GAP}/3-5`, [[5, 5]]],
    ]);
  });

  it('resolves a gap left open by a run that crashed before its review, at the first batch after restart', async () => {
    const c = chain(7, { 6: 6 });
    await take(c, [1, 2, 6], T0 + 100_000);
    // The previous run stored 3..5 and crashed before reviewing (written here without a review).
    const crashed = new IntegrityChecker({ keys });
    await crashed.plan([], store, T0);
    for (const seq of [3, 4, 5]) {
      const plan = await crashed.plan([{ batch: c[seq - 1] as Batch, receivedAt: T0 + 150_000 }], store, T0);
      await store.writeReadings(plan.rows);
      await store.archiveBatches(plan.archive);
      crashed.commit(plan);
    }
    expect((await byId(`${GAP}/3-5`))?.state ?? 'open').toBe('open');
    checker = new IntegrityChecker({ keys });
    await take(c, [7], T0 + 200_000);
    expect(await byId(`${GAP}/3-5`)).toMatchObject({ state: 'resolved', resolution: { seqs: [[3, 5]] } });
  });

  it('reports a forged predecessor as a gap, not a broken link, and resolves it when the verified version arrives', async () => {
    const c = chain(5);
    // Someone published a different seq 3 first, not signed by the gateway's key: quarantined, it is
    // no batch 3 of the chain, so 3 is missing (and 4 is checked against nothing).
    const forged = signBatch(
      {
        ...(c[2] as Batch),
        readings: [{ ...((c[2] as Batch).readings[0] as Batch['readings'][number]), value: '1' }],
      },
      rogue.privateKey,
    );
    const first = await take([c[0], c[1], forged, c[3], c[4]] as Batch[], [1, 2, 3, 4], T0 + 100_000);
    expect(first.map((f) => [f.code, f.state ?? 'open'])).toEqual([
      ['MRV_F_BAD_SIGNATURE', 'open'],
      ['MRV_F_SEQ_GAP', 'open'],
    ]);
    expect(await store.listOpenFindings('U1', 'MRV_F_CHAIN_BROKEN')).toEqual([]);

    // The gateway's own 3 arrives: it replaces the forged one and fills the gap.
    const later = await take(c, [3], T0 + 200_000);
    expect(later.map((f) => [f.code, f.state ?? 'open'])).toEqual([
      ['MRV_F_SEQ_CONFLICT', 'open'],
      ['MRV_F_SEQ_GAP', 'resolved'],
    ]);
    expect(await store.listOpenFindings('U1', 'MRV_F_SEQ_GAP')).toEqual([]);
    // The forgery stays on record, open.
    expect((await store.listOpenFindings('U1', 'MRV_F_BAD_SIGNATURE')).map((f) => f.detail.seq)).toEqual([3]);
  });

  it('keeps a reported gap open when only forgeries arrive for it, even after a restart', async () => {
    const c = chain(6);
    await take(c, [1, 2, 6], T0 + 100_000);
    expect((await findings('MRV_F_SEQ_GAP')).map((f) => [f.detail.from, f.detail.to])).toEqual([[3, 5]]);
    const forged = [3, 4, 5].map((seq) =>
      signBatch(
        {
          ...(c[seq - 1] as Batch),
          readings: [{ ...((c[seq - 1] as Batch).readings[0] as Batch['readings'][number]), value: '1' }],
        },
        rogue.privateKey,
      ),
    );
    await take(forged, [1, 2, 3], T0 + 200_000);
    checker = new IntegrityChecker({ keys }); // a restart re-reviews the gateway against the archive
    await take(c, [6], T0 + 300_000);
    expect(
      (await findings('MRV_F_SEQ_GAP')).map((f) => [f.detail.from, f.detail.to, f.state ?? 'open']),
    ).toEqual([[3, 5, 'open']]);
    expect(await store.listOpenFindings('U1', 'MRV_F_CHAIN_BROKEN')).toEqual([]);
  });

  it('keeps a broken link open when the predecessor that arrived still does not match', async () => {
    const c = chain(6, { 6: 6 });
    await take(c, [1, 2, 6], T0 + 100_000);
    // A forged 5 (signed by the gateway's key, stolen) that chains to 4 but is not the 5 batch 6 names.
    const forged = signBatch(
      {
        ...(c[4] as Batch),
        readings: [{ ...((c[4] as Batch).readings[0] as Batch['readings'][number]), value: '1' }],
      },
      pair.privateKey,
    );
    const later = await take([...c.slice(0, 4), forged, c[5]] as Batch[], [3, 4, 5], T0 + 200_000);
    // The gap is closed (its batches are stored); the break at 6 is raised once, at arrival, and stays open.
    expect(later.filter((f) => f.code === 'MRV_F_CHAIN_BROKEN').map((f) => f.detail.seq)).toEqual([6]);
    expect(await byId(`${GAP}/3-5`)).toMatchObject({
      state: 'resolved',
      resolution: { seqs: [[3, 5]], detail: { brokenLinks: [6] } },
    });
    expect((await byId(`${GAP}/3-5`))?.resolution?.message.en).toMatch(/broken at batch 6/);
    expect((await store.listOpenFindings('U1', 'MRV_F_CHAIN_BROKEN')).map((f) => f.detail.seq)).toEqual([6]);
  });
});

describe('collectors sharing a subscription (chain audit)', () => {
  const members = () => [0, 1].map(() => new IntegrityChecker({ keys, shared: true }));

  async function take(checker: IntegrityChecker, batches: readonly Batch[], receivedAt: number) {
    const plan = await checker.plan(
      batches.map((batch) => ({ batch, receivedAt })),
      store,
      receivedAt,
    );
    await store.writeReadings(plan.rows);
    await store.writeFindings(plan.findings);
    await store.archiveBatches(plan.archive);
    checker.commit(plan);
    return plan;
  }
  async function audit(a: ChainAudit, now: number) {
    const round = await a.run(now);
    await store.writeFindings(round.findings);
    return round;
  }
  const pick = (c: Batch[], ...seqs: number[]) => seqs.map((s) => c[s - 1] as Batch);

  it('resolves a hole the audit reported once another member stores its batches, partly first', async () => {
    const [a, b] = members() as [IntegrityChecker, IntegrityChecker];
    const c = chain(9);
    await take(a, pick(c, 1, 2, 3, 7, 8), T0 + 100_000);
    const audits = [new ChainAudit({ store, graceMs: 0 }), new ChainAudit({ store, graceMs: 0 })];
    const first = await audit(audits[0] as ChainAudit, T0 + 110_000);
    expect(first.findings.map((f) => f.id)).toEqual([`${GAP}/4-6`]);

    // The other member's session held 4 and 5 (it was reconnecting): stored now, 6 still missing.
    await take(b, pick(c, 4, 5), T0 + 120_000);
    const second = await audit(audits[1] as ChainAudit, T0 + 130_000);
    expect(second.findings.map((f) => [f.id, f.state ?? 'open', f.detail.remaining])).toEqual([
      [`${GAP}/4-6`, 'open', [[6, 6]]],
    ]);
    expect((await audit(audits[0] as ChainAudit, T0 + 135_000)).findings).toEqual([]);

    await take(b, pick(c, 6, 9), T0 + 140_000);
    const third = await audit(audits[0] as ChainAudit, T0 + 150_000);
    expect(third.findings.map((f) => [f.id, f.state])).toEqual([[`${GAP}/4-6`, 'resolved']]);
    expect(await byId(`${GAP}/4-6`)).toMatchObject({
      state: 'resolved',
      resolvedAt: iso(T0 + 150_000),
      resolution: { by: 'late-batches', seqs: [[4, 6]], detail: { brokenLinks: [] } },
    });
    // Every member's later rounds find nothing to do.
    for (const x of audits) expect((await audit(x, T0 + 160_000)).findings).toEqual([]);
    expect((await findings()).map((f) => [f.code, f.state])).toEqual([['MRV_F_SEQ_GAP', 'resolved']]);
  });

  it('checks the link after a filled hole that no arrival check saw, and raises a break there once', async () => {
    const [a, b] = members() as [IntegrityChecker, IntegrityChecker];
    const c = chain(6);
    const forged = signBatch(
      {
        ...(c[3] as Batch),
        readings: [{ ...((c[3] as Batch).readings[0] as Batch['readings'][number]), value: '1' }],
      },
      pair.privateKey,
    );
    await take(a, pick(c, 1, 2, 3, 5, 6), T0 + 100_000);
    const auditor = new ChainAudit({ store, graceMs: 0 });
    expect((await audit(auditor, T0 + 110_000)).findings.map((f) => f.id)).toEqual([`${GAP}/4-4`]);
    // A 4 that chains to 3 but is not the 4 that batch 5 names (shared arrival checks look back only).
    expect((await take(b, [forged], T0 + 120_000)).findings).toEqual([]);
    const round = await audit(auditor, T0 + 130_000);
    expect(round.findings.map((f) => [f.code, f.state ?? 'open', f.detail.seq ?? f.detail.from])).toEqual([
      ['MRV_F_CHAIN_BROKEN', 'open', 5],
      ['MRV_F_SEQ_GAP', 'resolved', 4],
    ]);
    expect(round.marked).toBe(1);
    const [link] = await store.listBatchLinks({ unitId: 'U1', gatewayId: 'gw1', fromSeq: 5, toSeq: 5 });
    expect(link).toMatchObject({ verdict: 'failed', findings: ['MRV_F_CHAIN_BROKEN'] });
    expect((await audit(new ChainAudit({ store, graceMs: 0 }), T0 + 140_000)).findings).toEqual([]);
  });
});
