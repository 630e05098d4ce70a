// The store-and-forward log on a real temp folder: appends survive a reopen, seq and the chain head
// continue, a torn last record (kill -9 mid-write) is cut off and counted, acknowledged segments are
// deleted, and a full log follows its policy.
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MrvError } from '../../../core/errors.ts';
import { GENESIS_HASH } from '../../../core/schema/wire.ts';
import { DiskLog } from '../../../gateway/disk-log.ts';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'mrv-disklog-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const hash = (seq: number) => (seq % 16).toString(16).repeat(64);
const payload = (seq: number, size = 100) => Buffer.from(JSON.stringify({ seq, pad: 'x'.repeat(size) }));
const segments = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('seg-'))
    .sort();

function fill(log: DiskLog, from: number, to: number, size = 100): void {
  for (let s = from; s <= to; s++) log.append(s, hash(s), payload(s, size));
}

describe('DiskLog', () => {
  it('starts a new log at seq 0 with the genesis hash', () => {
    const log = new DiskLog({ dir: tmp() });
    expect(log.open()).toMatchObject({ lastSeq: 0, lastHash: GENESIS_HASH, pending: 0, tornRecords: 0 });
    log.close();
  });

  it('keeps unacknowledged batches and the chain head across a reopen', () => {
    const dir = tmp();
    const a = new DiskLog({ dir, segmentBytes: 1024, maxBytes: 64 * 1024 });
    a.open();
    fill(a, 1, 30);
    for (let s = 1; s <= 10; s++) a.ack(s);
    a.close();
    const b = new DiskLog({ dir, segmentBytes: 1024, maxBytes: 64 * 1024 });
    expect(b.open()).toMatchObject({ lastSeq: 30, lastHash: hash(30), ackedThrough: 10, pending: 20 });
    expect(b.firstAvailableSeq).toBe(11);
    for (let s = 11; s <= 30; s++) expect(b.read(s)?.toString()).toBe(payload(s).toString());
    expect(b.read(10)).toBeUndefined();
    fill(b, 31, 31);
    expect(b.lastSeq).toBe(31);
    b.close();
  });

  it('deletes segments once every batch in them is acknowledged, never the newest', () => {
    const dir = tmp();
    const log = new DiskLog({ dir, segmentBytes: 1024, maxBytes: 64 * 1024 });
    log.open();
    fill(log, 1, 40);
    const before = segments(dir).length;
    expect(before).toBeGreaterThan(3);
    for (let s = 1; s <= 40; s++) log.ack(s);
    expect(segments(dir)).toHaveLength(1);
    expect(log.pending).toBe(0);
    log.close();
    // The newest segment alone (checkpoint + batches) restores the head after all was released.
    const again = new DiskLog({ dir, segmentBytes: 1024, maxBytes: 64 * 1024 });
    expect(again.open()).toMatchObject({ lastSeq: 40, lastHash: hash(40), pending: 0 });
    again.close();
  });

  it('cuts off a torn last record (killed mid-write), counts it and reuses its seq', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 5);
    a.close();
    const tail = path.join(dir, segments(dir).at(-1) as string);
    const size = statSync(tail).size;
    truncateSync(tail, size - 7); // the last record lost its end
    const b = new DiskLog({ dir });
    expect(b.open()).toMatchObject({ lastSeq: 4, lastHash: hash(4), pending: 4, tornRecords: 1 });
    expect(statSync(tail).size).toBeLessThan(size - 7);
    fill(b, 5, 6);
    b.close();
    const c = new DiskLog({ dir });
    expect(c.open()).toMatchObject({ lastSeq: 6, tornRecords: 0 });
    expect(c.read(5)?.toString()).toBe(payload(5).toString());
    c.close();
  });

  it('detects garbage appended after the last record and a flipped byte', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 3);
    a.close();
    const tail = path.join(dir, segments(dir).at(-1) as string);
    appendFileSync(tail, Buffer.from([0, 0, 0, 60, 1, 2, 3, 4, 5]));
    const b = new DiskLog({ dir });
    expect(b.open()).toMatchObject({ lastSeq: 3, tornRecords: 1 });
    b.close();
  });

  it('under "block" refuses an append that would pass the bound, with MRV_E_BUFFER_FULL', () => {
    const log = new DiskLog({ dir: tmp(), segmentBytes: 1024, maxBytes: 4096, whenFull: 'block' });
    log.open();
    let seq = 0;
    let error: unknown;
    try {
      for (;;) log.append(++seq, hash(seq), payload(seq));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MrvError);
    expect((error as MrvError).code).toBe('MRV_E_BUFFER_FULL');
    expect(log.lastSeq).toBe(seq - 1);
    expect(log.bytes).toBeLessThanOrEqual(4096);
    for (let s = 1; s < seq; s++) log.ack(s);
    log.append(seq, hash(seq), payload(seq)); // room again
    log.close();
  });

  it('under "drop-oldest" deletes the oldest segments and counts the unsent batches dropped', () => {
    const dir = tmp();
    const log = new DiskLog({ dir, segmentBytes: 1024, maxBytes: 4096, whenFull: 'drop-oldest' });
    log.open();
    fill(log, 1, 200);
    expect(log.lastSeq).toBe(200);
    expect(log.bytes).toBeLessThanOrEqual(4096);
    expect(log.stats.droppedBatches).toBeGreaterThan(100);
    expect(log.firstAvailableSeq).toBe(log.stats.droppedBatches + 1);
    expect(log.pending).toBe(200 - log.stats.droppedBatches);
    log.close();
  });

  it('works in memory without a folder, dropping oldest when full', () => {
    const log = new DiskLog({ segmentBytes: 1024, maxBytes: 2048, whenFull: 'drop-oldest' });
    log.open();
    fill(log, 1, 50);
    expect(log.durable).toBe(false);
    expect(log.stats.droppedBatches).toBeGreaterThan(0);
    expect(log.read(50)?.toString()).toBe(payload(50).toString());
    log.close();
  });

  it('stores a string payload as its UTF-8 bytes, framed exactly like the same Buffer', () => {
    const dirA = tmp();
    const a = new DiskLog({ dir: dirA });
    const dirB = tmp();
    const b = new DiskLog({ dir: dirB });
    a.open();
    b.open();
    const text = JSON.stringify({ seq: 1, v: '中文 \ud83d\ude00 "x"' });
    const stored = a.append(1, hash(1), text);
    b.append(1, hash(1), Buffer.from(text, 'utf8'));
    expect(stored.equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(a.read(1)?.equals(Buffer.from(text, 'utf8'))).toBe(true);
    a.close();
    b.close();
    const files = (d: string) => segments(d).map((f) => readFileSync(path.join(d, f)));
    const [segA] = files(dirA);
    const [segB] = files(dirB);
    expect(segA?.equals(segB as Buffer)).toBe(true);
  });

  it('releases the cached payload of an acknowledged batch and reads it back from the tail segment', () => {
    const dir = tmp();
    const log = new DiskLog({ dir, segmentBytes: 64 * 1024, maxBytes: 1024 * 1024 });
    log.open();
    fill(log, 1, 20);
    // Acknowledged out of order (seq 1 still open): 5 stays readable, now from the file.
    log.ack(5);
    expect(log.read(5)?.toString()).toBe(payload(5).toString());
    expect(log.read(6)?.toString()).toBe(payload(6).toString());
    log.close();
    // After a reopen the tail's acknowledged batches are not cached either, and still read back.
    const again = new DiskLog({ dir, segmentBytes: 64 * 1024, maxBytes: 1024 * 1024 });
    again.open();
    for (const s of [1, 5, 20]) expect(again.read(s)?.toString()).toBe(payload(s).toString());
    again.close();
  });

  it('with groupCommit publishes nothing beyond durableSeq, which catches up after one background fdatasync', async () => {
    const dir = tmp();
    const seen: number[] = [];
    const log = new DiskLog({
      dir,
      segmentBytes: 1024,
      maxBytes: 64 * 1024,
      groupCommit: true,
      onDurable: (s) => seen.push(s),
    });
    log.open();
    fill(log, 1, 3);
    expect(log.lastSeq).toBe(3);
    expect(log.durableSeq).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(log.durableSeq).toBe(3);
    expect(seen.at(-1)).toBe(3);
    // Crossing segments: the old tail is made durable before it is closed, the rest follows.
    fill(log, 4, 40);
    expect(segments(dir).length).toBeGreaterThan(1);
    expect(log.durableSeq).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 200));
    expect(log.durableSeq).toBe(40);
    for (let s = 1; s <= 40; s++) expect(log.read(s)?.toString()).toBe(payload(s).toString());
    log.close();
    const again = new DiskLog({ dir, segmentBytes: 1024, maxBytes: 64 * 1024, groupCommit: true });
    expect(again.open()).toMatchObject({ lastSeq: 40, pending: 40 });
    expect(again.durableSeq).toBe(40);
    again.close();
  });

  it('without a folder or with groupCommit off, durableSeq is lastSeq at once', () => {
    const mem = new DiskLog({ groupCommit: true });
    mem.open();
    fill(mem, 1, 2);
    expect(mem.durableSeq).toBe(2);
    const sync = new DiskLog({ dir: tmp() });
    sync.open();
    fill(sync, 1, 2);
    expect(sync.durableSeq).toBe(2);
    sync.close();
  });

  it('refuses a bound smaller than two segments with MRV_E_CONFIG', () => {
    expect(() => new DiskLog({ segmentBytes: 4096, maxBytes: 4096 })).toThrow(/twice the segment size/);
  });

  it('reports an unusable folder with MRV_E_BUFFER', () => {
    const file = path.join(tmp(), 'not-a-dir');
    writeFileSync(file, 'x');
    const log = new DiskLog({ dir: file });
    expect(() => log.open()).toThrow(expect.objectContaining({ code: 'MRV_E_BUFFER' }));
  });
});
