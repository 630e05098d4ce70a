// The store-and-forward log on a real temp folder: appends survive a reopen, seq and the chain head
// continue, a torn last record (kill -9 mid-write) is cut off and counted, bad bytes anywhere lose only
// the records they hit (reported by seq), acknowledged segments are deleted, a full log follows its
// policy, and a real full disk (tmpfs) cuts a short write off and never hands a seq out twice.
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MrvError } from '../../../core/errors.ts';
import { GENESIS_HASH } from '../../../core/schema/wire.ts';
import { DiskLog } from '../../../gateway/disk-log.ts';
import { mountTmpfs, unmountTmpfs } from '../../helpers/tmpfs.ts';

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

/** Byte offset and length of every record in a segment file, by seq (0 for the checkpoint), by walking the lengths. */
function recordsOf(file: string): Map<number, { offset: number; length: number }> {
  const buf = readFileSync(file);
  const out = new Map<number, { offset: number; length: number }>();
  for (let off = 0; off < buf.length; ) {
    const length = 8 + buf.readUInt32BE(off);
    const type = buf[off + 8];
    out.set(type === 2 ? 0 : Number(buf.readBigUInt64BE(off + 9)), { offset: off, length });
    off += length;
  }
  return out;
}

/** Overwrites `n` bytes at `offset` of `file` with 0xA5 (bad bytes on disk). */
function spoil(file: string, offset: number, n = 16): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(n, 0xa5), 0, n, offset);
  closeSync(fd);
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

  it('cuts off a torn last record whose header survived, declares its seq lost and goes on from its hash', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 5);
    a.close();
    const tail = path.join(dir, segments(dir).at(-1) as string);
    const size = statSync(tail).size;
    truncateSync(tail, size - 7); // the last record lost its end, not its header (seq 5, hash)
    const b = new DiskLog({ dir });
    expect(b.open()).toMatchObject({
      lastSeq: 5,
      lastHash: hash(5),
      pending: 4,
      tornRecords: 1,
      corruptRecords: 0,
      lost: [{ from: 5, to: 5, cause: 'torn' }],
    });
    expect(statSync(tail).size).toBeLessThan(size - 7);
    expect(b.read(5)).toBeUndefined();
    fill(b, 6, 7);
    b.close();
    const c = new DiskLog({ dir });
    // Still to declare (no batch carrying it was acknowledged), from the head file; the tail is clean.
    expect(c.open()).toMatchObject({ lastSeq: 7, tornRecords: 0, lost: [{ from: 5, to: 5, cause: 'torn' }] });
    expect(c.read(6)?.toString()).toBe(payload(6).toString());
    c.close();
  });

  it('reuses the seq of a torn last record whose header is gone (that batch was never published)', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 5);
    a.close();
    const tail = path.join(dir, segments(dir).at(-1) as string);
    const five = recordsOf(tail).get(5) as { offset: number; length: number };
    truncateSync(tail, five.offset + 20); // length, CRC and 12 body bytes: no whole seq + hash
    const b = new DiskLog({ dir });
    expect(b.open()).toMatchObject({ lastSeq: 4, lastHash: hash(4), tornRecords: 1, lost: [] });
    fill(b, 5, 6);
    b.close();
    const c = new DiskLog({ dir });
    expect(c.open()).toMatchObject({ lastSeq: 6, tornRecords: 0, lost: [] });
    expect(c.read(5)?.toString()).toBe(payload(5).toString());
    c.close();
  });

  it('zeros after the last record (a file extended by a crash before its data was written) are torn, no seq lost', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 3);
    a.close();
    appendFileSync(path.join(dir, segments(dir).at(-1) as string), Buffer.alloc(300));
    const b = new DiskLog({ dir });
    expect(b.open()).toMatchObject({ lastSeq: 3, tornRecords: 1, corruptRecords: 0, lost: [] });
    b.close();
  });

  it('16 bad bytes in the middle of the tail segment lose that one record, reported by seq', () => {
    const dir = tmp();
    const a = new DiskLog({ dir, segmentBytes: 1024 * 1024, maxBytes: 4 * 1024 * 1024 });
    a.open();
    fill(a, 1, 40);
    a.close();
    const tail = path.join(dir, segments(dir)[0] as string);
    const r = recordsOf(tail).get(16) as { offset: number; length: number };
    spoil(tail, r.offset + 60); // inside the payload: the CRC fails, the length still holds
    const b = new DiskLog({ dir, segmentBytes: 1024 * 1024, maxBytes: 4 * 1024 * 1024 });
    expect(b.open()).toMatchObject({
      lastSeq: 40,
      lastHash: hash(40),
      tornRecords: 0,
      corruptRecords: 1,
      pending: 39,
      lost: [{ from: 16, to: 16, cause: 'corrupt' }],
    });
    for (let s = 1; s <= 40; s++)
      if (s === 16) expect(b.read(s)).toBeUndefined();
      else expect(b.read(s)?.toString(), `seq ${s}`).toBe(payload(s).toString());
    fill(b, 41, 42); // appends go on after the last record, seq not reused
    expect(b.read(42)?.toString()).toBe(payload(42).toString());
    b.close();
  });

  it('resynchronises after bad bytes over a record header (length and CRC destroyed)', () => {
    const dir = tmp();
    const a = new DiskLog({ dir, segmentBytes: 1024 * 1024, maxBytes: 4 * 1024 * 1024 });
    a.open();
    fill(a, 1, 30);
    a.close();
    const tail = path.join(dir, segments(dir)[0] as string);
    const r = recordsOf(tail).get(10) as { offset: number; length: number };
    spoil(tail, r.offset - 4); // the end of record 9 and the header of record 10
    const b = new DiskLog({ dir, segmentBytes: 1024 * 1024, maxBytes: 4 * 1024 * 1024 });
    expect(b.open()).toMatchObject({
      lastSeq: 30,
      corruptRecords: 1,
      lost: [{ from: 9, to: 10, cause: 'corrupt' }],
    });
    expect(b.read(8)?.toString()).toBe(payload(8).toString());
    expect(b.read(11)?.toString()).toBe(payload(11).toString());
    b.close();
  });

  it('bad bytes in an older segment lose only that record; the rest of the segment is read', () => {
    const dir = tmp();
    const opts = { dir, segmentBytes: 2048, maxBytes: 64 * 1024 };
    const a = new DiskLog(opts);
    a.open();
    fill(a, 1, 60);
    a.close();
    const [first, second] = segments(dir) as [string, string, ...string[]];
    const inFirst = [...recordsOf(path.join(dir, first)).keys()].filter((s) => s > 0);
    const mid = inFirst[Math.floor(inFirst.length / 2)] as number;
    const last = inFirst.at(-1) as number;
    spoil(path.join(dir, first), (recordsOf(path.join(dir, first)).get(mid)?.offset ?? 0) + 50);
    // ...and the last record of the second segment: lost up to the next segment's first seq.
    const inSecond = recordsOf(path.join(dir, second));
    const lastOfSecond = Math.max(...inSecond.keys());
    spoil(path.join(dir, second), (inSecond.get(lastOfSecond)?.offset ?? 0) + 50);
    const b = new DiskLog(opts);
    expect(b.open()).toMatchObject({
      lastSeq: 60,
      corruptRecords: 2,
      lost: [
        { from: mid, to: mid, cause: 'corrupt' },
        { from: lastOfSecond, to: lastOfSecond, cause: 'corrupt' },
      ],
    });
    for (let s = 1; s <= 60; s++)
      if (s === mid || s === lastOfSecond) expect(b.read(s)).toBeUndefined();
      else expect(b.read(s)?.toString(), `seq ${s}`).toBe(payload(s).toString());
    expect(last).toBeGreaterThan(mid);
    expect(b.pending).toBe(58);
    b.close();
  });

  it('a whole last record with a bad CRC is cut off, its seq not reused, the chain going on from the one before', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 8);
    a.close();
    const tail = path.join(dir, segments(dir).at(-1) as string);
    spoil(tail, (recordsOf(tail).get(8)?.offset ?? 0) + 70);
    const b = new DiskLog({ dir });
    expect(b.open()).toMatchObject({
      lastSeq: 8,
      lastHash: hash(7),
      corruptRecords: 1,
      lost: [{ from: 8, to: 8, cause: 'corrupt' }],
    });
    fill(b, 9, 9);
    b.close();
  });

  it('a lost range leaves lost() once a batch appended with it is acknowledged', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 3);
    expect(a.skip(4, hash(4))).toBe(true);
    expect(a.skip(5, hash(5))).toBe(true);
    expect(a.lost).toEqual([{ from: 4, to: 5, cause: 'buffer_full' }]);
    expect(a).toMatchObject({ lastSeq: 5, lastHash: hash(5), pending: 3 });
    expect(a.read(4)).toBeUndefined();
    fill(a, 6, 7); // both carry the declaration
    for (const s of [1, 2, 3, 6]) a.ack(s);
    expect(a.lost).toEqual([]);
    expect(a.ackedThrough).toBe(6);
    a.close();
  });

  it('a seq handed out by skip() survives a restart (head file): never handed out again', () => {
    const dir = tmp();
    const a = new DiskLog({ dir });
    a.open();
    fill(a, 1, 3);
    a.ack(1);
    a.skip(4, hash(4));
    a.close();
    const b = new DiskLog({ dir });
    expect(b.open()).toMatchObject({
      lastSeq: 4,
      lastHash: hash(4),
      pending: 2,
      lost: [{ from: 4, to: 4, cause: 'buffer_full' }],
    });
    fill(b, 5, 5);
    b.close();
  });

  it('a declaration carried only by batches that drop-oldest deletes is kept, and the drop declared', () => {
    const log = new DiskLog({ dir: tmp(), segmentBytes: 1024, maxBytes: 4096, whenFull: 'drop-oldest' });
    log.open();
    fill(log, 1, 2);
    log.skip(3, hash(3));
    fill(log, 4, 200);
    const lost = log.lost;
    expect(lost[0]).toEqual({ from: 1, to: 2, cause: 'dropped' });
    expect(lost).toContainEqual({ from: 3, to: 3, cause: 'buffer_full' });
    expect(lost.at(-1)).toEqual({ from: 4, to: log.firstAvailableSeq - 1, cause: 'dropped' });
    log.close();
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

  // A real full disk: a small tmpfs (test/helpers/tmpfs.ts: root or sudo). Records of ~3 KB straddle its 4 KiB pages, so
  // the write that meets ENOSPC is mostly a short one.
  describe('on a full disk (tmpfs)', () => {
    const mounted: string[] = [];
    afterEach(() => {
      for (const m of mounted.splice(0)) unmountTmpfs(m);
    });
    function smallDisk(kib: number): string {
      const d = path.join(tmp(), 'disk');
      mkdirSync(d);
      mountTmpfs(d, `${kib}k`);
      mounted.push(d);
      return d;
    }
    const opts = (dir: string, whenFull: 'block' | 'drop-oldest', segmentBytes = 16 * 1024) => ({
      dir,
      segmentBytes,
      maxBytes: 64 * 1024 * 1024, // far above the disk: the disk is what fills
      whenFull,
    });

    it('block: a failed (short) write is cut off, the seq is skipped durably, a restart hands it out never again', () => {
      const dir = smallDisk(128);
      // One segment for the whole disk: the disk fills in the middle of a record, not at a new segment.
      const a = new DiskLog(opts(dir, 'block', 64 * 1024));
      a.open();
      let seq = 0;
      let error: unknown;
      try {
        for (;;) a.append(++seq, hash(seq), payload(seq, 3000));
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ code: 'MRV_E_BUFFER_FULL' });
      expect((error as Error).message).toMatch(/short write: \d+ of \d+ bytes/);
      expect(a.full).toBe(true);
      expect(a.lastSeq).toBe(seq - 1);
      const logged = seq - 1;
      // The cycle still gets its seq (the head file needs no new blocks), and so do the next ones.
      expect(a.skip(seq, hash(seq))).toBe(true);
      expect(() => a.append(seq + 1, hash(seq + 1), payload(seq + 1, 3000))).toThrow(/buffer/);
      expect(a.skip(seq + 1, hash(seq + 1))).toBe(true);
      a.close();
      const b = new DiskLog(opts(dir, 'block', 64 * 1024));
      // No torn or corrupt record: every failed write was cut off again.
      expect(b.open()).toMatchObject({
        lastSeq: seq + 1,
        lastHash: hash(seq + 1),
        tornRecords: 0,
        corruptRecords: 0,
        pending: logged,
        lost: [{ from: seq, to: seq + 1, cause: 'buffer_full' }],
      });
      for (let s = 1; s <= logged; s++) expect(b.read(s)?.toString()).toBe(payload(s, 3000).toString());
      // Room again (the first segments acknowledged and deleted): appends go on at the next seq.
      for (let s = 1; s <= logged; s++) b.ack(s);
      b.append(seq + 2, hash(seq + 2), payload(seq + 2, 3000));
      expect(b.full).toBe(false);
      b.close();
    });

    it('drop-oldest: a full disk drops the oldest segments and declares them, appends go on', () => {
      const dir = smallDisk(128);
      const log = new DiskLog(opts(dir, 'drop-oldest'));
      log.open();
      for (let s = 1; s <= 200; s++) log.append(s, hash(s), payload(s, 3000));
      expect(log.lastSeq).toBe(200);
      expect(log.full).toBe(true);
      expect(log.stats.droppedBatches).toBeGreaterThan(100);
      expect(log.lost).toEqual([{ from: 1, to: log.firstAvailableSeq - 1, cause: 'dropped' }]);
      expect(log.read(200)?.toString()).toBe(payload(200, 3000).toString());
      log.close();
      const again = new DiskLog(opts(dir, 'drop-oldest'));
      expect(again.open()).toMatchObject({ lastSeq: 200, tornRecords: 0, corruptRecords: 0 });
      again.close();
    });
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
