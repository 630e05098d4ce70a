// Collectors sharing one subscription (issue 7 scale-out): the integrity checks in shared mode
// (collector/integrity.ts) and the chain audit (collector/chain-audit.ts), with several checkers over one
// embedded store standing for several collectors over one database.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChainAudit } from '../../../collector/chain-audit.ts';
import { IntegrityChecker, type ReceivedBatch } from '../../../collector/integrity.ts';
import { keyRegistry } from '../../../collector/keys.ts';
import { SqliteStore } from '../../../collector/sqlite-store.ts';
import type { Batch } from '../../../core/schema/wire.ts';
import { signBatch } from '../../../core/signing.ts';
import { signedChain } from '../../helpers/signed-chain.ts';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const _iso = (ms: number) => new Date(ms).toISOString();
const pair = generateKeyPairSync('ed25519');
const keys = keyRegistry([
  {
    gatewayId: 'gw1',
    unitId: 'U1',
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  },
]);

/**
 * A signed chain of `n` batches of gw1 (one reading each), starting at seq 1; `tamper` rewrites prevHash;
 * `backlog[seq]` is the `backlogFrom` the gateway wrote into batch `seq`.
 */
const chain = (
  n: number,
  tamper?: { seq: number; prevHash: string },
  backlog: Record<number, number> = {},
): Batch[] => signedChain(n, pair.privateKey, { backlog, ...(tamper ? { tamper } : {}) });

describe('shared-mode integrity and the chain audit', () => {
  let store: SqliteStore;
  /** Three collectors of one share group. */
  let members: IntegrityChecker[];
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    members = [0, 1, 2].map(() => new IntegrityChecker({ keys, shared: true }));
  });
  afterEach(() => store.stop());

  /** One member plans, writes and commits a flush, as the collector does. */
  async function take(member: number, batches: readonly Batch[], receivedAt = T0 + 100_000) {
    const checker = members[member] as IntegrityChecker;
    const items: ReceivedBatch[] = batches.map((batch) => ({ batch, receivedAt }));
    const plan = await checker.plan(items, store, receivedAt);
    await store.writeReadings(plan.rows);
    await store.writeFindings(plan.findings);
    await store.archiveBatches(plan.archive);
    checker.commit(plan);
    return plan;
  }
  const codes = (plan: { findings: { code: string }[] }) => plan.findings.map((f) => f.code);
  const pick = (c: Batch[], ...seqs: number[]) => seqs.map((s) => c[s - 1] as Batch);

  it('spreads one chain over three members without a gap, chain or duplicate finding', async () => {
    const c = chain(9);
    // Round robin, and out of order between members: 3 stores 3, 6, 9 before 1 and 2 store theirs.
    const plans = [
      await take(2, pick(c, 3, 6, 9)),
      await take(0, pick(c, 1, 4, 7)),
      await take(1, pick(c, 2, 5, 8)),
    ];
    expect(plans.flatMap(codes)).toEqual([]);
    expect(plans.reduce((n, p) => n + p.rows.length, 0)).toBe(9);
    const archived = await store.listBatchLinks({ unitId: 'U1', gatewayId: 'gw1' });
    expect(archived.map((b) => [b.seq, b.verdict])).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => [s, 'verified']),
    );
    const audit = new ChainAudit({ store, graceMs: 0 });
    const round = await audit.run(T0 + 200_000);
    expect(round.findings).toEqual([]);
    expect(round.checked).toBe(9);
    expect(audit.cursor('U1', 'gw1')).toBe(9);
  });

  it('recognises a batch stored by another member as a redelivery and writes it once', async () => {
    const c = chain(3);
    await take(0, c);
    // The broker redelivers seq 2 to another member (the first one's connection dropped before PUBACK).
    const again = await take(1, pick(c, 2));
    expect(again.duplicates).toBe(1);
    expect(again.rows).toEqual([]);
    expect(again.archive).toEqual([]);
    expect(codes(again)).toEqual([]);
  });

  it('raises MRV_F_SEQ_CONFLICT when another member stored different bytes under the same seq', async () => {
    const c = chain(2);
    await take(0, c);
    const forged = signBatch(
      {
        ...(c[1] as Batch),
        readings: [{ ...((c[1] as Batch).readings[0] as Batch['readings'][number]), value: '1' }],
      },
      pair.privateKey,
    );
    const plan = await take(2, [forged]);
    expect(codes(plan)).toEqual(['MRV_F_SEQ_CONFLICT']);
    expect(plan.rows).toEqual([]);
    expect(plan.findings[0]?.detail.kept).toBe('stored');
  });

  it('checks the chain at arrival when the predecessor is archived, else leaves it to the audit', async () => {
    const good = chain(4);
    const c = chain(4, { seq: 4, prevHash: 'f'.repeat(64) });
    // seq 3 is archived: a broken link at 4 is seen at arrival.
    await take(0, pick(good, 1, 2, 3));
    expect(codes(await take(1, pick(c, 4)))).toEqual(['MRV_F_CHAIN_BROKEN']);

    // Another gateway's chain whose broken link's predecessor arrives later at another member: the
    // arrival checks cannot see it, the audit does, once, and marks the record failed.
    await store.stop();
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    expect(codes(await take(1, pick(c, 4)))).toEqual([]);
    expect(codes(await take(0, pick(c, 1, 2, 3)))).toEqual([]);
    const audits = [new ChainAudit({ store, graceMs: 0 }), new ChainAudit({ store, graceMs: 0 })];
    const first = await audits[0]?.run(T0 + 200_000);
    expect(first?.findings.map((f) => [f.code, f.detail.seq])).toEqual([['MRV_F_CHAIN_BROKEN', 4]]);
    expect(first?.marked).toBe(1);
    await store.writeFindings(first?.findings ?? []);
    // The second member's audit sees the code on the record and does not raise it again.
    expect((await audits[1]?.run(T0 + 200_000))?.findings).toEqual([]);
    const [link] = await store.listBatchLinks({ unitId: 'U1', gatewayId: 'gw1', fromSeq: 4, toSeq: 4 });
    expect(link?.verdict).toBe('failed');
    expect(link?.findings).toEqual(['MRV_F_CHAIN_BROKEN']);
  });

  it("reports a hole only after its grace, once across members, with the arrival checks' id", async () => {
    const c = chain(8);
    const archivedAt = T0 + 100_000;
    await take(0, pick(c, 1, 2, 3), archivedAt);
    await take(1, pick(c, 6, 7, 8), archivedAt); // 4 and 5 are with the third member, or lost
    const grace = 60_000;
    const a = new ChainAudit({ store, graceMs: grace });
    const b = new ChainAudit({ store, graceMs: grace });
    // Within the grace: nothing, and the cursor waits at the hole.
    expect((await a.run(archivedAt + grace - 1)).findings).toEqual([]);
    expect(a.cursor('U1', 'gw1')).toBe(3);
    const late = await a.run(archivedAt + grace);
    expect(late.findings.map((f) => [f.code, f.id, f.detail.from, f.detail.to, f.ts])).toEqual([
      ['MRV_F_SEQ_GAP', 'integrity/U1/gw1/MRV_F_SEQ_GAP/4-5', 4, 5, (c[5] as Batch).readings[0]?.ts],
    ]);
    expect(a.cursor('U1', 'gw1')).toBe(8);
    await store.writeFindings(late.findings);
    // The other member finds it stored and does not raise it again.
    expect((await b.run(archivedAt + grace)).findings).toEqual([]);
    expect(b.cursor('U1', 'gw1')).toBe(8);
    // The missing batches arrive late: stored, chain-checked against their archived predecessor, no new finding.
    const plan = await take(2, pick(c, 4, 5), archivedAt + grace + 1);
    expect(codes(plan)).toEqual([]);
    expect(plan.rows).toHaveLength(2);
  });

  it('waits, past the grace, for a hole the gateway still holds, and reports the part it dropped', async () => {
    // After an outage the gateway sends 8 and 9 ahead of 4..7; later it drops 4 and 5 (full log).
    const c = chain(12, undefined, { 8: 4, 9: 4, 10: 6 });
    await take(0, pick(c, 1, 2, 3, 8, 9));
    const audit = new ChainAudit({ store, graceMs: 1000 });
    // Long past the grace: still no finding, the newest batch (9) says 4.. are in the gateway's log.
    expect((await audit.run(T0 + 900_000)).findings).toEqual([]);
    expect(audit.cursor('U1', 'gw1')).toBe(3);
    // Batch 10 was made when the gateway's oldest held seq was 6: 4 and 5 are gone, 6 and 7 still come.
    await take(1, pick(c, 10));
    const round = await audit.run(T0 + 900_000);
    expect(round.findings.map((f) => [f.code, f.detail.from, f.detail.to])).toEqual([
      ['MRV_F_SEQ_GAP', 4, 5],
    ]);
    await store.writeFindings(round.findings);
    expect(audit.cursor('U1', 'gw1')).toBe(5);
    // 6 and 7 arrive: the walk goes on to the head with nothing more to say.
    await take(2, pick(c, 6, 7));
    expect((await audit.run(T0 + 900_000)).findings).toEqual([]);
    expect(audit.cursor('U1', 'gw1')).toBe(10);
  });

  it('starts a new cursor near the head, not at genesis, for a long chain', async () => {
    const c = chain(30);
    await take(0, c.slice(0, 10));
    await take(0, c.slice(14)); // 11..14 missing, far below the head
    const audit = new ChainAudit({ store, graceMs: 0, lookbackBatches: 10 });
    const round = await audit.run(T0 + 200_000);
    // Head 30 − 10 = 20: the walk starts at the first archived batch above 20, the old hole is not seen.
    expect(round.findings).toEqual([]);
    expect(round.checked).toBe(10);
    const full = await new ChainAudit({ store, graceMs: 0 }).run(T0 + 200_000);
    expect(full.findings.map((f) => f.detail.from)).toEqual([11]);
  });
});
