// The store-and-forward log through a long outage (issue 19 item 1): tens of thousands of batches
// pile up unacknowledged (a broker or collector down for hours, compressed), the gateway restarts
// during the outage and again during the drain, and the log's memory does not grow with the backlog;
// afterwards every batch is delivered — each stored once by a collector that recognises (gatewayId,
// seq) —, in seq order, the hash chain intact. A log full under `block` keeps one range for all the
// seqs it skipped, and a restart after a power cut that lost the newest `acked` file does not leave
// the cursor stuck behind seqs whose segments are already gone.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { MrvError } from '../../../core/errors.ts';
import { GENESIS_HASH } from '../../../core/schema/wire.ts';
import { DiskLog, type DiskLogOptions } from '../../../gateway/disk-log.ts';
import { SeqRanges } from '../../../gateway/seq-ranges.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'mrv-disklog-backlog-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Heap used after two full collections, MiB. */
function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A chained batch as the gateway makes it (JSON with seq and prevHash); its hash is of its bytes. */
function makeBatch(seq: number, prevHash: string): { json: string; hash: string } {
  const json = JSON.stringify({ seq, prevHash, readings: 'r'.repeat(180) });
  return { json, hash: sha256(json) };
}

function appendNext(log: DiskLog): void {
  const b = makeBatch(log.lastSeq + 1, log.lastHash);
  log.append(log.lastSeq + 1, b.hash, b.json);
}

const OPTS: DiskLogOptions = { segmentBytes: 128 * 1024, maxBytes: 64 * 1024 * 1024, fsync: false };

/**
 * A collector that stores a batch once per seq, checking order and chain on the first copy. It keeps
 * the seqs it stored as ranges, so that the heap measured around it is the log's.
 */
class Collector {
  readonly #seen = new SeqRanges();
  stored = 0;
  duplicates = 0;
  lastHash = GENESIS_HASH;
  take(payload: Buffer): number {
    const b = JSON.parse(payload.toString('utf8')) as { seq: number; prevHash: string };
    if (this.#seen.has(b.seq)) {
      this.duplicates++;
      return b.seq;
    }
    // In order: the first copy of every batch comes right after its predecessor's.
    expect(b.seq).toBe(this.stored + 1);
    expect(b.prevHash).toBe(this.lastHash);
    this.lastHash = sha256(payload);
    this.#seen.add(b.seq);
    this.stored++;
    return b.seq;
  }
}

/**
 * Sends from the log as the gateway's pump does, `window` batches in flight, acknowledging each window
 * in reverse order (acknowledgements out of order), with a new batch appended every `liveEvery` sends.
 */
function drain(log: DiskLog, c: Collector, until: number, window = 64, liveEvery = 40): void {
  let next = log.firstAvailableSeq;
  let sends = 0;
  while (log.ackedThrough < until) {
    const out: number[] = [];
    for (; out.length < window && next <= log.lastSeq; next++) {
      if (log.isReleased(next)) continue;
      const payload = log.read(next);
      expect(payload, `seq ${next}`).toBeDefined();
      out.push(c.take(payload as Buffer));
      if (++sends % liveEvery === 0) appendNext(log);
    }
    if (out.length === 0) break;
    for (const seq of out.reverse()) log.ack(seq);
  }
}

describe('DiskLog through a long outage', () => {
  it('holds no per-batch state for 40 000 unacknowledged batches, survives restarts, then delivers each once, in order, chained', () => {
    const dir = tmp();
    let log = new DiskLog({ dir, ...OPTS });
    log.open();
    for (let i = 0; i < 2_000; i++) appendNext(log);
    const heap0 = heapMiB();
    const early = log.memoryStats();
    for (let i = 2_000; i < 40_000; i++) appendNext(log);
    const heap1 = heapMiB();
    const late = log.memoryStats();
    expect(log.pending).toBe(40_000);
    // 38 000 more unacknowledged batches: per batch nothing more in memory. The segments are the
    // disk's (one small object each, at most maxBytes / segmentBytes of them); the tail's offsets and
    // payloads are bounded by the segment size.
    const perSegment = Math.ceil((OPTS.segmentBytes as number) / 200);
    expect(late.ackedRanges).toBe(0);
    expect(late.readBack).toBe(0);
    expect(late.tailRecords).toBeLessThanOrEqual(perSegment);
    expect(late.tailPayloads).toBeLessThanOrEqual(late.tailRecords);
    expect(late.segments).toBe(readdirSync(dir).filter((f) => f.startsWith('seg-')).length);
    expect(late.segments).toBeLessThanOrEqual((OPTS.maxBytes as number) / (OPTS.segmentBytes as number) + 1);
    expect(early.tailRecords).toBeLessThanOrEqual(perSegment);
    // A hash string per batch was ~100 B each: 38 000 of them ≈ 4 MiB. The segment objects ≈ 0.1 MiB.
    expect(heap1 - heap0, `heap ${heap0.toFixed(1)} → ${heap1.toFixed(1)} MiB`).toBeLessThan(1.5);

    // The gateway restarts during the outage: the whole backlog is still there, the chain goes on.
    const head = { seq: log.lastSeq, hash: log.lastHash };
    log.close();
    log = new DiskLog({ dir, ...OPTS });
    const report = log.open();
    expect(report).toMatchObject({
      lastSeq: head.seq,
      lastHash: head.hash,
      ackedThrough: 0,
      pending: 40_000,
    });

    // The broker is back: half the backlog goes out (new batches keep coming), then another restart.
    const c = new Collector();
    drain(log, c, 20_000);
    const heapDraining = heapMiB();
    expect(log.memoryStats().ackedRanges).toBeLessThanOrEqual(1);
    expect(log.memoryStats().readBack).toBeLessThanOrEqual(perSegment);
    const acked = log.ackedThrough;
    log.close();
    // A clean stop records the exact cursor: nothing acknowledged is sent again.
    expect(JSON.parse(readFileSync(path.join(dir, 'acked'), 'utf8')).ackedThrough).toBe(acked);
    log = new DiskLog({ dir, ...OPTS });
    expect(log.open().ackedThrough).toBe(acked);
    drain(log, c, Number.POSITIVE_INFINITY);

    // Everything delivered: each batch stored once; only the window in flight at the restart went twice.
    expect(log.pending).toBe(0);
    expect(log.ackedThrough).toBe(log.lastSeq);
    expect(c.stored).toBe(log.lastSeq);
    expect(c.lastHash).toBe(log.lastHash);
    expect(c.duplicates).toBeLessThanOrEqual(64);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toHaveLength(1);
    expect(log.memoryStats()).toMatchObject({ ackedRanges: 0, tailPayloads: 0 });
    expect(heapMiB() - heapDraining).toBeLessThan(1.5);
    log.close();
  });

  it('full under "block" through the outage: every skipped seq is one range, never handed out again; the backlog drains', () => {
    const dir = tmp();
    const opts = { dir, segmentBytes: 16 * 1024, maxBytes: 64 * 1024, fsync: false };
    let log = new DiskLog(opts);
    log.open();
    let logged = 0;
    let skipped = 0;
    for (let i = 0; i < 30_000; i++) {
      const seq = log.lastSeq + 1;
      const b = makeBatch(seq, log.lastHash);
      try {
        log.append(seq, b.hash, b.json);
        logged++;
      } catch (err) {
        expect((err as MrvError).code).toBe('MRV_E_BUFFER_FULL');
        log.skip(seq, b.hash);
        skipped++;
      }
      if (i === 2_000) expect(log.memoryStats().ackedRanges).toBe(1);
    }
    expect(skipped).toBeGreaterThan(29_000);
    expect(log.full).toBe(true);
    expect(log.pending).toBe(logged);
    expect(log.memoryStats().ackedRanges).toBe(1);
    expect(log.lost).toEqual([{ from: logged + 1, to: 30_000, cause: 'buffer_full' }]);

    const head = { seq: log.lastSeq, hash: log.lastHash };
    log.close();
    log = new DiskLog(opts);
    expect(log.open()).toMatchObject({ lastSeq: head.seq, lastHash: head.hash, pending: logged });
    // The logged batches drain in order and chained; the skipped seqs need no sending.
    const c = new Collector();
    for (let s = log.firstAvailableSeq; s <= logged; s++) {
      c.take(log.read(s) as Buffer);
      log.ack(s);
    }
    expect(c.stored).toBe(logged);
    expect(log.ackedThrough).toBe(30_000);
    expect(log.pending).toBe(0);
    // The next batch continues the chain from the last skipped one, at the next seq.
    const b = makeBatch(30_001, head.hash);
    log.append(30_001, b.hash, b.json);
    expect(log.full).toBe(false);
    expect(log.memoryStats().ackedRanges).toBe(0);
    log.close();
  });

  it('after a power cut that lost the newest "acked" file, the cursor passes seqs whose segments are gone', () => {
    const dir = tmp();
    const opts = { dir, segmentBytes: 16 * 1024, maxBytes: 4 * 1024 * 1024, fsync: false };
    let log = new DiskLog(opts);
    log.open();
    for (let i = 0; i < 3_000; i++) appendNext(log);
    for (let s = 1; s <= 2_000; s++) log.ack(s);
    const segsLeft = readdirSync(dir).filter((f) => f.startsWith('seg-'));
    log.close();
    // The acked file as it was long before the cut (its segments released since).
    writeFileSync(path.join(dir, 'acked'), JSON.stringify({ ackedThrough: 10, hash: GENESIS_HASH }));
    log = new DiskLog(opts);
    const report = log.open();
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toEqual(segsLeft);
    const firstKept = log.firstAvailableSeq;
    expect(firstKept).toBeGreaterThan(11);
    expect(firstKept).toBeLessThanOrEqual(2_001);
    expect(report.pending).toBe(3_000 - firstKept + 1);
    for (let s = firstKept; s <= 3_000; s++) {
      expect(log.read(s)).toBeDefined();
      log.ack(s);
    }
    expect(log.ackedThrough).toBe(3_000);
    expect(log.pending).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toHaveLength(1);
    log.close();
  });
});
