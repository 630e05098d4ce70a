/**
 * The gateway's store-and-forward log (docs/delivery.md): every batch is appended here, fsync'd, before
 * it is published, and released only once it is acknowledged ({@link DiskLog.ack}): by a collector's
 * store acknowledgement (the default), or by the broker's PUBACK (`delivery.release: broker`). After a
 * broker, network, collector or gateway restart the unacknowledged batches are read back in seq order.
 *
 * On disk (`dir`):
 * - `seg-<first seq, 16 digits>.log`: append-only segments of at most `segmentBytes` (a single record may
 *   exceed it). Each record is `[u32 BE body length][u32 BE CRC-32 of body][body]`, body =
 *   `[u8 type][u64 BE seq][32 bytes SHA-256 of the batch's canonical bytes][payload]`. Type 1 is a batch
 *   (payload = the batch as published, JSON with `sig`); type 2 is a checkpoint written first in every new
 *   segment (seq and hash of the batch before it, no payload), so the newest segment alone gives the
 *   chain head even after every older segment was released.
 * - `acked`: `{"ackedThrough": n, "hash": h}`, every batch up to seq n was acknowledged. Replaced by
 *   rename without fsync: after a power cut the last acknowledged batches may be published again,
 *   which the collector recognises by (gatewayId, seq) and does not store twice.
 *
 * Crash safety: appends are written with one `write` and `fdatasync` (with `groupCommit`, one
 * asynchronous `fdatasync` covers every append written before it started, and {@link DiskLog.durableSeq}
 * says how far the log is on disk; the gateway publishes nothing beyond it); a gateway killed mid-write leaves
 * at most a torn last record, detected at open by its length or CRC, cut off (the file is truncated),
 * counted in `tornRecords` and logged. That batch was never published, so its seq is simply reused:
 * `seq` stays gapless. A bad record anywhere else is counted in `corruptRecords` and the rest of that
 * segment is skipped (the collector then raises `MRV_F_SEQ_GAP` for the batches lost).
 *
 * Size bound: `maxBytes` over all segments still on disk. When an append would pass it, `whenFull`
 * decides: `block` refuses the append with `MRV_E_BUFFER_FULL` (the gateway pauses polling until the
 * broker has taken enough), `drop-oldest` deletes the oldest segments, counting their unacknowledged
 * batches in `droppedBatches` (the collector sees the seq gap and raises a finding). Never silent.
 *
 * I/O is synchronous (`fs.*Sync`): a gateway appends a few batches a second and the order of appends
 * is then trivially the order of calls. Only the `groupCommit` fdatasync runs in libuv's thread pool, so
 * that polling and decoding go on while the disk flushes (bench/: a synchronous fdatasync per batch held
 * the event loop for an eighth of the time flat out).
 *
 * Memory: payloads of the tail segment are cached only until they are acknowledged (the common case:
 * published right after the append, released on PUBACK); anything else is read back from its segment. Without `dir` the log lives in memory only (no durability), for
 * tests and the demo without a data folder.
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { MrvError } from '../core/errors.ts';
import { GENESIS_HASH } from '../core/schema/wire.ts';

/** What happens when an append would pass `maxBytes`. */
export type WhenFull = 'block' | 'drop-oldest';

/** Options of {@link DiskLog}. */
export interface DiskLogOptions {
  /** Folder of the log (created if missing); absent = memory only, nothing survives the process. */
  dir?: string | undefined;
  /** Segment size in bytes before a new segment starts. Default 4 MiB. */
  segmentBytes?: number;
  /** Bound on the bytes of all segments kept. Default 256 MiB; at least 2 × `segmentBytes`. */
  maxBytes?: number;
  /** Policy when full. Default `block`. */
  whenFull?: WhenFull;
  /** fdatasync after every append (default true). Off only for benchmarks that measure without it. */
  fsync?: boolean;
  /**
   * Group commit (default false): `append` writes at once but leaves the fdatasync to one asynchronous
   * call for every append written before it started; {@link DiskLog.durableSeq} then trails
   * {@link DiskLog.lastSeq} and `onDurable` reports its progress. Without it every append is fdatasync'd
   * before it returns.
   */
  groupCommit?: boolean;
  /** Called (asynchronously) when {@link DiskLog.durableSeq} advanced under `groupCommit`. */
  onDurable?: (durableSeq: number) => void;
  log?: Logger;
}

/** What {@link DiskLog.open} found. */
export interface RecoveryReport {
  /** Seq and hash of the newest batch in the log (0 and the genesis hash for a new log). */
  lastSeq: number;
  lastHash: string;
  /** Every batch up to this seq was acknowledged before. */
  ackedThrough: number;
  /** Batches waiting to be published (again). */
  pending: number;
  segments: number;
  tornRecords: number;
  corruptRecords: number;
}

interface Segment {
  file: string;
  /** Seq the first batch of this segment has (or will have). */
  firstSeq: number;
  /** Seq of its last batch; `firstSeq - 1` while it holds none. */
  lastSeq: number;
  bytes: number;
}

const TYPE_BATCH = 1;
const TYPE_CHECKPOINT = 2;
const HEADER = 8;
const BODY_FIXED = 1 + 8 + 32;
const SEGMENT_RE = /^seg-(\d{16})\.log$/;

function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

/**
 * Frames one record (see the file comment) in one allocation; a string payload is encoded (UTF-8)
 * straight into it.
 */
function frame(type: number, seq: number, hashHex: string, payload: Buffer | string): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
  const record = Buffer.allocUnsafe(HEADER + BODY_FIXED + length);
  const body = record.subarray(HEADER);
  body[0] = type;
  body.writeBigUInt64BE(BigInt(seq), 1);
  body.fill(0, 9, BODY_FIXED);
  body.write(hashHex, 9, 32, 'hex');
  if (typeof payload === 'string') body.write(payload, BODY_FIXED, length, 'utf8');
  else payload.copy(body, BODY_FIXED);
  record.writeUInt32BE(body.length, 0);
  record.writeUInt32BE(crc32(body), 4);
  return record;
}

interface ParsedRecord {
  type: number;
  seq: number;
  hash: string;
  payload: Buffer;
  /** Offsets of the record's start and of the byte after it. */
  start: number;
  end: number;
}

/** Parses records from `buf`; stops at the first that is short, fails its CRC or has an unknown type. */
function parseRecords(buf: Buffer): { records: ParsedRecord[]; goodBytes: number; bad: boolean } {
  const records: ParsedRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + HEADER > buf.length) return { records, goodBytes: off, bad: true };
    const len = buf.readUInt32BE(off);
    const crc = buf.readUInt32BE(off + 4);
    if (len < BODY_FIXED || off + HEADER + len > buf.length) return { records, goodBytes: off, bad: true };
    const body = buf.subarray(off + HEADER, off + HEADER + len);
    const type = body.readUInt8(0);
    if (crc32(body) !== crc || (type !== TYPE_BATCH && type !== TYPE_CHECKPOINT))
      return { records, goodBytes: off, bad: true };
    const start = off;
    off += HEADER + len;
    records.push({
      start,
      type,
      seq: Number(body.readBigUInt64BE(1)),
      hash: body.subarray(9, BODY_FIXED).toString('hex'),
      payload: Buffer.from(body.subarray(BODY_FIXED)),
      end: off,
    });
  }
  return { records, goodBytes: off, bad: false };
}

/**
 * The append-only, segmented batch log. Construct, {@link open}, then {@link append} / {@link read} /
 * {@link ack}; {@link close} when done. Not safe for two processes on one folder.
 */
export class DiskLog {
  readonly #dir: string | undefined;
  readonly #segmentBytes: number;
  readonly #maxBytes: number;
  readonly #whenFull: WhenFull;
  readonly #fsync: boolean;
  readonly #groupCommit: boolean;
  readonly #onDurable: ((durableSeq: number) => void) | undefined;
  readonly #log: Logger | undefined;
  #segments: Segment[] = [];
  #tailFd: number | undefined;
  /**
   * Payloads of the tail segment's unacknowledged batches (index = seq - tail.firstSeq; released on
   * ack), and of one older segment read back.
   */
  #tailCache: (Buffer | undefined)[] = [];
  /** Byte offset of every batch record in the tail segment (index = seq - tail.firstSeq), for read-back. */
  #tailOffsets: number[] = [];
  /** Under `groupCommit`: newest seq known to be on disk, and the fdatasync running (if any). */
  #durableSeq = 0;
  #syncing = false;
  /** Old tail segments' fds whose close waits for the fdatasync running on them. */
  #closeAfterSync: number[] = [];
  #readCache: { firstSeq: number; payloads: Buffer[] } | undefined;
  /** Memory-only mode keeps every unreleased payload here instead. */
  readonly #memory = new Map<number, Buffer>();
  #lastSeq = 0;
  #lastHash = GENESIS_HASH;
  #ackedThrough = 0;
  #ackedHash = GENESIS_HASH;
  readonly #acked = new Set<number>();
  readonly #hashes = new Map<number, string>();
  #ackTimer: NodeJS.Timeout | undefined;
  #opened = false;
  /** Counters for status and metrics. */
  readonly stats = { droppedBatches: 0, tornRecords: 0, corruptRecords: 0 };

  constructor(options: DiskLogOptions = {}) {
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#whenFull = options.whenFull ?? 'block';
    this.#fsync = options.fsync ?? true;
    this.#groupCommit = options.groupCommit ?? false;
    this.#onDurable = options.onDurable;
    this.#log = options.log;
    if (!(this.#segmentBytes >= 1024))
      throw new MrvError('MRV_E_CONFIG', 'buffer segment size must be at least 1024 bytes');
    if (!(this.#maxBytes >= 2 * this.#segmentBytes))
      throw new MrvError(
        'MRV_E_CONFIG',
        `buffer size ${this.#maxBytes} must be at least twice the segment size ${this.#segmentBytes}`,
      );
  }

  /** True when the log is on disk. */
  get durable(): boolean {
    return this.#dir !== undefined;
  }
  get policy(): WhenFull {
    return this.#whenFull;
  }
  get maxBytes(): number {
    return this.#maxBytes;
  }
  /** Seq of the newest appended batch. */
  get lastSeq(): number {
    return this.#lastSeq;
  }
  /**
   * Newest seq that is on disk (fdatasync'd), or only in memory without `dir`: a batch may be published
   * up to here. Equals {@link lastSeq} unless `groupCommit` has a flush pending.
   */
  get durableSeq(): number {
    return this.#groupCommit && this.#dir !== undefined && this.#fsync ? this.#durableSeq : this.#lastSeq;
  }
  /** SHA-256 of the newest appended batch's canonical bytes (the next batch's `prevHash`). */
  get lastHash(): string {
    return this.#lastHash;
  }
  /** Every batch up to this seq is acknowledged. */
  get ackedThrough(): number {
    return this.#ackedThrough;
  }
  /** Lowest seq still readable (older ones were released or dropped). */
  get firstAvailableSeq(): number {
    if (this.#dir === undefined) return this.#ackedThrough + 1;
    return Math.max(this.#ackedThrough + 1, this.#segments[0]?.firstSeq ?? this.#lastSeq + 1);
  }
  /** True when `seq` needs no sending any more: acknowledged (released), dropped, or never appended. */
  isReleased(seq: number): boolean {
    return seq < this.firstAvailableSeq || seq > this.#lastSeq || this.#acked.has(seq);
  }
  /** Batches appended but not yet acknowledged (dropped ones excluded). */
  get pending(): number {
    let n = 0;
    for (let s = this.firstAvailableSeq; s <= this.#lastSeq; s++) if (!this.#acked.has(s)) n++;
    return n;
  }
  /** Bytes of all segments kept (memory mode: of all unreleased payloads). */
  get bytes(): number {
    if (!this.durable) {
      let n = 0;
      for (const p of this.#memory.values()) n += p.length + HEADER + BODY_FIXED;
      return n;
    }
    return this.#segments.reduce((n, s) => n + s.bytes, 0);
  }

  /**
   * Opens the folder: reads every segment, cuts off a torn last record, restores the chain head and
   * the acknowledged cursor. Synchronous.
   * @throws MrvError `MRV_E_BUFFER` when the folder cannot be created or read
   */
  open(): RecoveryReport {
    if (this.#opened) throw new Error('DiskLog.open: already open');
    this.#opened = true;
    const dir = this.#dir;
    if (dir === undefined) return this.#report();
    try {
      mkdirSync(dir, { recursive: true });
      const ackFile = path.join(dir, 'acked');
      if (existsSync(ackFile)) {
        const a = JSON.parse(readFileSync(ackFile, 'utf8')) as { ackedThrough?: unknown; hash?: unknown };
        if (typeof a.ackedThrough === 'number' && typeof a.hash === 'string') {
          this.#ackedThrough = a.ackedThrough;
          this.#ackedHash = a.hash;
          this.#lastSeq = a.ackedThrough;
          this.#lastHash = a.hash;
        }
      }
      const names = readdirSync(dir)
        .filter((n) => SEGMENT_RE.test(n))
        .sort();
      names.forEach((name, i) => {
        const file = path.join(dir, name);
        const buf = readFileSync(file);
        const { records, goodBytes, bad } = parseRecords(buf);
        const isTail = i === names.length - 1;
        if (bad) {
          if (isTail) {
            this.stats.tornRecords++;
            this.#log?.warn(
              { file, offset: goodBytes, bytes: buf.length - goodBytes },
              'torn last record cut off (gateway stopped mid-write); that batch was never published',
            );
            const fd = openSync(file, 'r+');
            ftruncateSync(fd, goodBytes);
            fsyncSync(fd);
            closeSync(fd);
          } else {
            this.stats.corruptRecords++;
            this.#log?.error(
              { file, offset: goodBytes },
              'corrupt record in a segment; the rest of that segment is skipped',
            );
          }
        }
        const firstSeq = Number(SEGMENT_RE.exec(name)?.[1]);
        const seg: Segment = { file, firstSeq, lastSeq: firstSeq - 1, bytes: goodBytes };
        for (const r of records) {
          if (r.type === TYPE_CHECKPOINT) {
            if (r.seq >= this.#lastSeq) {
              this.#lastSeq = r.seq;
              this.#lastHash = r.hash;
            }
            continue;
          }
          seg.lastSeq = r.seq;
          if (r.seq > this.#lastSeq) {
            this.#lastSeq = r.seq;
            this.#lastHash = r.hash;
          }
          this.#hashes.set(r.seq, r.hash);
          if (isTail) {
            this.#tailOffsets[r.seq - firstSeq] = r.start;
            if (r.seq > this.#ackedThrough) this.#tailCache[r.seq - firstSeq] = r.payload;
          }
        }
        this.#segments.push(seg);
      });
      if (this.#ackedThrough > this.#lastSeq) this.#ackedThrough = this.#lastSeq;
      this.#durableSeq = this.#lastSeq;
      const tail = this.#segments.at(-1);
      if (tail) this.#tailFd = openSync(tail.file, 'a+');
      this.#releaseSegments();
    } catch (err) {
      if (err instanceof MrvError) throw err;
      throw new MrvError(
        'MRV_E_BUFFER',
        `cannot open the buffer folder ${dir}: ${(err as Error).message}`,
        { dir },
        { cause: err },
      );
    }
    const report = this.#report();
    this.#log?.info(report, 'store-and-forward log opened');
    return report;
  }

  #report(): RecoveryReport {
    return {
      lastSeq: this.#lastSeq,
      lastHash: this.#lastHash,
      ackedThrough: this.#ackedThrough,
      pending: this.pending,
      segments: this.#segments.length,
      tornRecords: this.stats.tornRecords,
      corruptRecords: this.stats.corruptRecords,
    };
  }

  /** True when a batch of `payloadBytes` would not fit without dropping or blocking. */
  wouldOverflow(payloadBytes: number): boolean {
    return this.bytes + HEADER + BODY_FIXED + payloadBytes > this.#maxBytes;
  }

  /**
   * Appends the next batch: written and fsync'd before this returns.
   * @param seq must be `lastSeq + 1`
   * @param hash SHA-256 hex of the batch's canonical bytes
   * @param payload the batch exactly as it will be published (a string is stored as its UTF-8 bytes)
   * @returns the payload's bytes as stored (what {@link read} returns for `seq`)
   * @throws MrvError `MRV_E_BUFFER_FULL` when full under the `block` policy (nothing appended);
   *   `MRV_E_BUFFER` when the disk write fails (nothing counts as appended)
   */
  append(seq: number, hash: string, payload: Buffer | string): Buffer {
    if (!this.#opened) throw new Error('DiskLog.append before open()');
    if (seq !== this.#lastSeq + 1) throw new Error(`DiskLog.append: seq ${seq} after ${this.#lastSeq}`);
    const payloadBytes = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
    if (this.wouldOverflow(payloadBytes)) {
      if (this.#whenFull === 'block')
        throw new MrvError(
          'MRV_E_BUFFER_FULL',
          `store-and-forward log full (${this.bytes} of ${this.#maxBytes} bytes)`,
          {
            bytes: this.bytes,
            maxBytes: this.#maxBytes,
          },
        );
      this.#dropOldest(payloadBytes);
    }
    let stored: Buffer;
    if (this.#dir === undefined) {
      stored = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
      this.#memory.set(seq, stored);
    } else {
      try {
        stored = this.#appendToDisk(seq, hash, payload);
      } catch (err) {
        throw new MrvError(
          'MRV_E_BUFFER',
          `cannot append to the buffer: ${(err as Error).message}`,
          { seq },
          { cause: err },
        );
      }
    }
    this.#hashes.set(seq, hash);
    this.#lastSeq = seq;
    this.#lastHash = hash;
    if (this.#groupCommit && this.#dir !== undefined && this.#fsync) this.#scheduleSync();
    return stored;
  }

  /** Starts an asynchronous fdatasync of the tail when none is running; it covers every append so far. */
  #scheduleSync(): void {
    if (this.#syncing || this.#durableSeq >= this.#lastSeq) return;
    const fd = this.#tailFd;
    if (fd === undefined) return;
    const upTo = this.#lastSeq;
    this.#syncing = true;
    fdatasync(fd, (err) => {
      this.#syncing = false;
      for (const old of this.#closeAfterSync.splice(0)) closeSync(old);
      if (err) {
        // Nothing is published beyond durableSeq; the next append (or this retry) tries again.
        this.#log?.error({ err: err.message }, 'fdatasync of the buffer failed; retrying');
        if (this.#tailFd !== undefined) setTimeout(() => this.#scheduleSync(), 100).unref();
        return;
      }
      if (upTo > this.#durableSeq) {
        this.#durableSeq = upTo;
        this.#onDurable?.(upTo);
      }
      if (this.#tailFd !== undefined) this.#scheduleSync();
    });
  }

  /** Makes every append durable now (synchronously); used before a tail segment is closed. */
  #syncNow(fd: number): void {
    if (!this.#groupCommit || !this.#fsync || this.#durableSeq >= this.#lastSeq) return;
    fdatasyncSync(fd);
    this.#durableSeq = this.#lastSeq;
    const durable = this.#durableSeq;
    const onDurable = this.#onDurable;
    if (onDurable) queueMicrotask(() => onDurable(durable));
  }

  /** Closes an old tail's fd, after the fdatasync running on it (if any). */
  #closeTail(fd: number): void {
    this.#syncNow(fd);
    if (this.#syncing) this.#closeAfterSync.push(fd);
    else closeSync(fd);
  }

  #appendToDisk(seq: number, hash: string, payload: Buffer | string): Buffer {
    const dir = this.#dir as string;
    const record = frame(TYPE_BATCH, seq, hash, payload);
    let tail = this.#segments.at(-1);
    if (
      tail === undefined ||
      this.#tailFd === undefined ||
      (tail.bytes + record.length > this.#segmentBytes && tail.lastSeq >= tail.firstSeq)
    ) {
      if (this.#tailFd !== undefined) this.#closeTail(this.#tailFd);
      this.#tailFd = undefined;
      const file = path.join(dir, segmentName(seq));
      const fd = openSync(file, 'w+');
      // The checkpoint is durable before the first batch goes in: a torn first batch leaves the head.
      const cp = frame(TYPE_CHECKPOINT, this.#lastSeq, this.#lastHash, Buffer.alloc(0));
      writeSync(fd, cp);
      fsyncSync(fd);
      const dfd = openSync(dir, 'r');
      fsyncSync(dfd);
      closeSync(dfd);
      tail = { file, firstSeq: seq, lastSeq: seq - 1, bytes: cp.length };
      this.#segments.push(tail);
      this.#tailFd = fd;
      this.#tailCache = [];
      this.#tailOffsets = [];
    }
    writeSync(this.#tailFd as number, record);
    if (this.#fsync && !this.#groupCommit) fdatasyncSync(this.#tailFd as number);
    const stored = record.subarray(HEADER + BODY_FIXED);
    this.#tailOffsets[seq - tail.firstSeq] = tail.bytes;
    tail.bytes += record.length;
    tail.lastSeq = seq;
    this.#tailCache[seq - tail.firstSeq] = stored;
    return stored;
  }

  /** Deletes the oldest segments (never the tail) until `payloadBytes` fit; counts unacknowledged batches dropped. */
  #dropOldest(payloadBytes: number): void {
    while (this.wouldOverflow(payloadBytes)) {
      if (this.#dir === undefined) {
        const oldest = this.#memory.keys().next();
        if (oldest.done) return;
        this.#memory.delete(oldest.value);
        if (!this.#acked.has(oldest.value)) this.#noteDropped(oldest.value, oldest.value);
        this.#advanceAcked(oldest.value);
        continue;
      }
      if (this.#segments.length < 2) return; // only the tail left: a single oversized batch still goes in
      const seg = this.#segments.shift() as Segment;
      unlinkSync(seg.file);
      let n = 0;
      for (let s = Math.max(seg.firstSeq, this.#ackedThrough + 1); s <= seg.lastSeq; s++)
        if (!this.#acked.has(s)) n++;
      if (n > 0) this.#noteDropped(Math.max(seg.firstSeq, this.#ackedThrough + 1), seg.lastSeq, n);
      this.#advanceAcked(seg.lastSeq);
      if (this.#readCache?.firstSeq === seg.firstSeq) this.#readCache = undefined;
    }
  }

  #noteDropped(from: number, to: number, n = to - from + 1): void {
    this.stats.droppedBatches += n;
    this.#log?.error(
      { from, to, batches: n },
      'store-and-forward log full: oldest unsent batches dropped (policy drop-oldest)',
    );
  }

  /** Marks everything up to `seq` as released (dropped), keeping the chain-head cursor consistent. */
  #advanceAcked(seq: number): void {
    if (seq <= this.#ackedThrough) return;
    this.#ackedThrough = seq;
    this.#ackedHash = this.#hashes.get(seq) ?? this.#ackedHash;
    for (const s of this.#acked) if (s <= seq) this.#acked.delete(s);
    this.#advanceContiguous();
    this.#scheduleAckWrite();
  }

  #advanceContiguous(): void {
    while (this.#acked.has(this.#ackedThrough + 1)) {
      this.#ackedThrough++;
      this.#acked.delete(this.#ackedThrough);
      this.#ackedHash = this.#hashes.get(this.#ackedThrough) ?? this.#ackedHash;
    }
    for (const s of this.#hashes.keys()) {
      if (s >= this.#ackedThrough) break;
      this.#hashes.delete(s);
    }
  }

  /**
   * The published payload of batch `seq`, or undefined when it was released, dropped or never appended.
   * @throws MrvError `MRV_E_BUFFER` when a segment cannot be read back
   */
  read(seq: number): Buffer | undefined {
    if (seq < this.firstAvailableSeq || seq > this.#lastSeq) return undefined;
    if (this.#dir === undefined) return this.#memory.get(seq);
    const seg = this.#segments.find((s) => s.firstSeq <= seq && seq <= s.lastSeq);
    if (seg === undefined) return undefined;
    if (seg === this.#segments.at(-1)) return this.#tailCache[seq - seg.firstSeq] ?? this.#readTail(seq);
    if (this.#readCache?.firstSeq !== seg.firstSeq) {
      try {
        const { records } = parseRecords(readFileSync(seg.file));
        const payloads: Buffer[] = [];
        for (const r of records) if (r.type === TYPE_BATCH) payloads[r.seq - seg.firstSeq] = r.payload;
        this.#readCache = { firstSeq: seg.firstSeq, payloads };
      } catch (err) {
        throw new MrvError(
          'MRV_E_BUFFER',
          `cannot read back ${seg.file}: ${(err as Error).message}`,
          { seq },
          { cause: err },
        );
      }
    }
    return this.#readCache.payloads[seq - seg.firstSeq];
  }

  /** One batch of the tail segment whose payload is no longer cached, read back from the file. */
  #readTail(seq: number): Buffer | undefined {
    const tail = this.#segments.at(-1) as Segment;
    const offset = this.#tailOffsets[seq - tail.firstSeq];
    const fd = this.#tailFd;
    if (offset === undefined || fd === undefined) return undefined;
    try {
      const head = Buffer.alloc(HEADER);
      readSync(fd, head, 0, HEADER, offset);
      const record = Buffer.allocUnsafe(HEADER + head.readUInt32BE(0));
      if (readSync(fd, record, 0, record.length, offset) !== record.length) throw new Error('short read');
      const { records } = parseRecords(record);
      const r = records[0];
      if (r?.type !== TYPE_BATCH || r.seq !== seq) throw new Error(`no batch ${seq} at offset ${offset}`);
      return r.payload;
    } catch (err) {
      throw new MrvError(
        'MRV_E_BUFFER',
        `cannot read back ${tail.file}: ${(err as Error).message}`,
        { seq },
        { cause: err },
      );
    }
  }

  /** Records the broker's acknowledgement of `seq`; whole segments acknowledged are deleted (never the tail). */
  ack(seq: number): void {
    if (seq <= this.#ackedThrough || seq > this.#lastSeq) return;
    this.#acked.add(seq);
    const tail = this.#segments.at(-1);
    // Acknowledged: its payload is read back from the file should it ever be asked for again.
    if (tail && seq >= tail.firstSeq) this.#tailCache[seq - tail.firstSeq] = undefined;
    const before = this.#ackedThrough;
    this.#advanceContiguous();
    if (this.#dir === undefined) {
      for (const s of this.#memory.keys()) {
        if (s > this.#ackedThrough) break;
        this.#memory.delete(s);
      }
    }
    if (this.#ackedThrough !== before) {
      this.#releaseSegments();
      this.#scheduleAckWrite();
    }
  }

  #releaseSegments(): void {
    while (this.#segments.length > 1 && (this.#segments[0] as Segment).lastSeq <= this.#ackedThrough) {
      const seg = this.#segments.shift() as Segment;
      try {
        unlinkSync(seg.file);
      } catch (err) {
        this.#log?.warn({ file: seg.file, err: (err as Error).message }, 'cannot delete a released segment');
      }
      if (this.#readCache?.firstSeq === seg.firstSeq) this.#readCache = undefined;
    }
  }

  #scheduleAckWrite(): void {
    if (this.#dir === undefined || this.#ackTimer !== undefined) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      this.#writeAcked();
    }, 100);
    this.#ackTimer.unref();
  }

  #writeAcked(): void {
    if (this.#dir === undefined) return;
    const file = path.join(this.#dir, 'acked');
    try {
      writeFileSync(
        `${file}.tmp`,
        JSON.stringify({ ackedThrough: this.#ackedThrough, hash: this.#ackedHash }),
      );
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.#log?.warn(
        { err: (err as Error).message },
        'cannot record acknowledged batches; they may be sent again',
      );
    }
  }

  /** Writes the acknowledged cursor and closes the tail segment. Idempotent. */
  close(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#opened) this.#writeAcked();
    if (this.#tailFd !== undefined) this.#closeTail(this.#tailFd);
    this.#tailFd = undefined;
  }

  /** Size of a segment file on disk (for tests and diagnostics). */
  static fileSize(file: string): number {
    return statSync(file).size;
  }
}
