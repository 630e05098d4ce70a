// A single collector and a gateway that sends new batches ahead of its backlog (wire field
// `backlogFrom`, collector/integrity.ts): holes still in the gateway's log are waited for, holes the
// gateway no longer holds are reported once, across collector restarts too.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityChecker, type ReceivedBatch, Waiting } from '../../../collector/integrity.ts';
import { keyRegistry } from '../../../collector/keys.ts';
import { SqliteStore } from '../../../collector/sqlite-store.ts';
import type { Batch, LostRange } from '../../../core/schema/wire.ts';
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
 * A signed chain of `n` batches of gw1 as a gateway makes them; `backlog[seq]` is the `backlogFrom`
 * the gateway wrote into batch `seq` (the lowest seq it still held unacknowledged then).
 */
const chain = (
  n: number,
  backlog: Record<number, number> = {},
  lost: Record<number, LostRange[]> = {},
  chainFrom: Record<number, number> = {},
): Batch[] => signedChain(n, pair.privateKey, { backlog, lost, chainFrom });

describe('a gateway replaying a backlog behind live batches', () => {
  let store: SqliteStore;
  let checker: IntegrityChecker;
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    checker = new IntegrityChecker({ keys });
  });
  afterEach(() => store.stop());

  /**
   * Plans, writes and commits one batch at a time, in the order given, like the collector; then, as
   * the collector does once its backlog session is quiet, reports the holes that stay missing.
   */
  async function take(c: Batch[], ...seqs: number[]) {
    const codes: string[] = [];
    const gaps: [number, number][] = [];
    const note = (fs: { code: string; detail: Record<string, unknown> }[]) => {
      for (const f of fs) {
        codes.push(f.code);
        if (f.code === 'MRV_F_SEQ_GAP') gaps.push([f.detail.from as number, f.detail.to as number]);
      }
    };
    for (const seq of seqs) {
      const items: ReceivedBatch[] = [{ batch: c[seq - 1] as Batch, receivedAt: T0 + 100_000 }];
      const plan = await checker.plan(items, store, T0 + 100_000);
      await store.writeReadings(plan.rows);
      await store.writeFindings(plan.findings);
      await store.archiveBatches(plan.archive);
      checker.commit(plan);
      note(plan.findings);
    }
    const due = await checker.dueGaps(store, T0 + 100_000);
    await store.writeFindings(due);
    note(due);
    return { codes, gaps };
  }
  const archivedSeqs = async () =>
    (await store.listBatchLinks({ unitId: 'U1', gatewayId: 'gw1' })).map((l) => l.seq);

  it('reports a gap the gateway declared (full log) with its cause, once, and no broken chain', async () => {
    // 4 could not be logged (disk full) and its copy from memory never arrived; 5 and 6 declare it.
    const c = chain(
      8,
      {},
      { 5: [{ from: 4, to: 4, cause: 'buffer_full' }], 6: [{ from: 4, to: 4, cause: 'buffer_full' }] },
    );
    const r = await take(c, 1, 2, 3, 5, 6, 7, 8);
    expect(r.codes).toEqual(['MRV_F_SEQ_GAP']);
    const [gap] = await store.listFindings('U1', 0, T0 + 3_600_000, { code: 'MRV_F_SEQ_GAP' });
    expect(gap?.detail).toMatchObject({
      from: 4,
      to: 4,
      cause: 'buffer_full',
      declaredBy: 'gateway',
      declaredIn: 5,
    });
    expect(gap?.message.en).toMatch(
      /batches 4\.\.4 are missing .*gap declared by the gateway, cause buffer_full/,
    );
  });

  it('a declared batch that arrived after all (published from memory) raises nothing', async () => {
    const c = chain(6, {}, { 5: [{ from: 4, to: 4, cause: 'buffer_full' }] });
    expect((await take(c, 1, 2, 3, 4, 5, 6)).codes).toEqual([]);
  });

  it('accepts a chain going on from the batch before a declared corrupt record, and only then', async () => {
    // Batch 5's record went bad in the gateway's log after it was published: the restarted gateway
    // declares 5 lost (corrupt) and chains 6 from 4, the last hash it could read.
    const declared = chain(7, {}, { 6: [{ from: 5, to: 5, cause: 'corrupt' }] }, { 6: 4 });
    expect((await take(declared, 1, 2, 3, 4, 5, 6, 7)).codes).toEqual([]);
    // The same link without the declaration is a broken chain.
    await store.stop();
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    checker = new IntegrityChecker({ keys });
    const undeclared = chain(7, {}, {}, { 6: 4 });
    expect((await take(undeclared, 1, 2, 3, 4, 5, 6, 7)).codes).toEqual(['MRV_F_CHAIN_BROKEN']);
  });

  it('a declared corrupt record that never arrived is a gap with cause corrupt, not a broken chain', async () => {
    const c = chain(7, {}, { 6: [{ from: 5, to: 5, cause: 'corrupt' }] }, { 6: 4 });
    const r = await take(c, 1, 2, 3, 4, 6, 7);
    expect(r.codes).toEqual(['MRV_F_SEQ_GAP']);
    const [gap] = await store.listFindings('U1', 0, T0 + 3_600_000, { code: 'MRV_F_SEQ_GAP' });
    expect(gap?.detail).toMatchObject({ from: 5, to: 5, cause: 'corrupt' });
  });

  it('waits for the backlog sent behind newer batches: no gap, every link checked', async () => {
    // Broker outage after 3: batches 4..7 wait in the log; 8 and 9 are made while they still wait.
    const c = chain(10, { 8: 4, 9: 4 });
    const r = await take(c, 1, 2, 3, 8, 9, 4, 5, 6, 7, 10);
    expect(r.codes).toEqual([]);
    expect(await archivedSeqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('reports what the gateway dropped (drop-oldest) once a batch shows it no longer holds it', async () => {
    // 3 and 4 were dropped from a full log: batch 7 was made when the log's oldest held seq was 5.
    const c = chain(8, { 6: 3, 7: 5 });
    const first = await take(c, 1, 2, 6);
    expect(first.codes).toEqual([]);
    const later = await take(c, 7, 5, 8);
    expect(later.gaps).toEqual([[3, 4]]);
    expect(later.codes).toEqual(['MRV_F_SEQ_GAP']);
  });

  it('reports a hole below backlogFrom (the broker took it before this batch was sent)', async () => {
    const c = chain(6, { 6: 5 });
    expect((await take(c, 1, 2, 6)).gaps).toEqual([[3, 4]]);
    expect((await take(c, 5)).codes).toEqual([]);
  });

  it('still resolves the holes it waited for after a restart, and does not repeat an old gap', async () => {
    const c = chain(12, { 5: 3, 6: 3 });
    // An in-order gap reported and stored before the restart: 9 never arrives, 10 comes without backlog.
    expect((await take(c, 1, 2, 5, 6)).codes).toEqual([]);
    // The collector restarts: a new checker over the same store, waiting for 3 and 4 again.
    checker = new IntegrityChecker({ keys });
    expect((await take(c, 3, 4, 7, 8, 10)).gaps).toEqual([[9, 9]]);
    checker = new IntegrityChecker({ keys });
    // The hole at 9 is found again in the archive; the next batch resolves it, the stored finding stays one.
    expect((await take(c, 11)).codes).toEqual([]);
    const gaps = await store.listFindings('U1', T0, T0 + 3_600_000, { code: 'MRV_F_SEQ_GAP' });
    expect(gaps.map((f) => f.id)).toEqual(['integrity/U1/gw1/MRV_F_SEQ_GAP/9-9']);
  });

  it('checks a late batch against the newer batch already stored after it', async () => {
    const c = chain(4, { 4: 3 });
    await take(c, 1, 2, 4);
    // A forged 3 that chains to 2 but is not the batch 4 was chained to.
    const forged = signBatch(
      {
        ...(c[2] as Batch),
        readings: [{ ...((c[2] as Batch).readings[0] as Batch['readings'][number]), value: '1' }],
      },
      pair.privateKey,
    );
    const r = await take([c[0], c[1], forged, c[3]] as Batch[], 3);
    expect(r.codes).toEqual(['MRV_F_CHAIN_BROKEN']);
  });
});

describe('Waiting', () => {
  it('adds, removes and takes seq ranges', () => {
    const w = new Waiting();
    w.add(4, 7);
    w.add(8, 9);
    w.add(12, 12);
    expect(w.list()).toEqual([
      [4, 9],
      [12, 12],
    ]);
    w.add(1, 2); // below everything held
    w.add(3, 3); // bridges to the next range
    expect(w.list()).toEqual([
      [1, 9],
      [12, 12],
    ]);
    w.remove(1);
    w.remove(2);
    w.remove(3);
    w.remove(6);
    w.remove(4);
    w.remove(100);
    expect(w.list()).toEqual([
      [5, 5],
      [7, 9],
      [12, 12],
    ]);
    expect(w.takeBelow(8)).toEqual([
      [5, 5],
      [7, 7],
    ]);
    expect(w.list()).toEqual([
      [8, 9],
      [12, 12],
    ]);
    const copy = w.copy();
    copy.remove(8);
    expect(w.list()[0]).toEqual([8, 9]);
  });
});
