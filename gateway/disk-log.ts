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
 * - `head`: 16 KiB written once when the log is created and afterwards only overwritten in place (so it
 *   needs no new disk blocks when the disk is full), two slots of `[u32 BE length][u32 BE CRC-32][JSON]`
 *   written alternately, the newer valid one wins: `{gen, seq, hash, lost}`, the newest seq handed out
 *   that the segments may not show (a batch the log could not take) with its hash, and the lost seq
 *   ranges not yet declared in an acknowledged batch ({@link DiskLog.lost}).
 *
 * Every seq is used once. A batch the log cannot take ({@link DiskLog.append} throws: the bound reached
 * under `block`, the disk full, a short write, which is cut off again) still gets its seq through
 * {@link DiskLog.skip}: recorded in `head` (fdatasync'd) before the gateway publishes it from memory,
 * so that no restart hands that seq out again, and declared lost (`buffer_full`) in the next batches.
 *
 * Crash safety and bad bytes: appends are written with one `write` (its byte count checked) and
 * `fdatasync` (with `groupCommit`, one asynchronous `fdatasync` covers every append written before it
 * started, and {@link DiskLog.durableSeq} says how far the log is on disk; the gateway publishes nothing
 * beyond it). At open every segment is read record by record; a record that is short or fails its CRC
 * starts a bad region, which ends at the next offset where a whole record with a valid CRC starts
 * (resynchronised on length + CRC), so only the records in it are lost, in any segment:
 * - between two good records (or before the next segment): the seqs between them are lost, `corrupt`;
 * - at the end of the newest segment, a record cut short (gateway killed mid-write; or only zeros, a
 *   file extended by a crash before its data reached the disk): `torn`. When its
 *   header (seq, hash) is whole its seq is not reused (the chain continues from that hash); when not,
 *   that batch was certainly never published (publishing waits for the fdatasync of the whole record)
 *   and its seq is reused. A whole record with a bad CRC there is `corrupt`; its seq is not reused, and
 *   the chain continues from the batch before it (Batch `lost`, core/schema/wire.ts). Both are cut off.
 * Lost seqs above the acknowledged cursor go into {@link DiskLog.lost} (declared by the gateway, reported
 * by the collector with the cause); counted in `tornRecords` / `corruptRecords` and logged.
 *
 * Size bound: `maxBytes` over all segments still on disk. When an append would pass it, or the disk is
 * full, `whenFull` decides: `block` refuses the append with `MRV_E_BUFFER_FULL` (the oldest batches are
 * kept; the gateway skips the seq and publishes that batch from memory), `drop-oldest` deletes the oldest
 * segments, counting their unacknowledged batches in `droppedBatches` and declaring them lost
 * (`dropped`). {@link DiskLog.full} says so until an append goes in again. Never silent.
 *
 * I/O is synchronous (`fs.*Sync`): a gateway appends a few batches a second and the order of appends
 * is then trivially the order of calls. Only the `groupCommit` fdatasync runs in libuv's thread pool, so
 * that polling and decoding go on while the disk flushes (bench/: a synchronous fdatasync per batch held
 * the event loop for an eighth of the time flat out).
 *
 * Memory does not grow with the backlog (a broker or collector outage of hours or days): per batch the
 * log keeps nothing in memory but the tail segment's record offsets and its unacknowledged payloads
 * (both bounded by `segmentBytes`) and, when an older segment is being read back, that one segment.
 * Acknowledged, skipped and lost seqs above the cursor are ranges ({@link SeqRanges}: a run of skips
 * while the log is full is one entry), a segment costs one small object (at most `maxBytes /
 * segmentBytes` + 1 of them), and the hash of the acknowledged cursor is looked up when the cursor moves
 * (the newest batch, a segment's first or last batch, the tail's record header, the segment being read)
 * instead of a hash per unacknowledged batch. When it cannot be found cheaply, `acked` keeps the newest
 * cursor whose hash is known: it then says less than was acknowledged, which costs batches sent again
 * after a restart (recognised by the collector), never one lost. At open every seq in the log's range
 * that has no record (skipped, lost, in a segment already released) counts as released.
 * Without `dir` the log lives in memory only (no durability), for tests and the demo without a data
 * folder.
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
import { GENESIS_HASH, type LostCause, type LostRange, MAX_LOST_RANGES } from '../core/schema/wire.ts';
import { SeqRanges } from './seq-ranges.ts';

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
  /** Torn last records cut off (gateway stopped mid-write), and bad regions found in any segment. */
  tornRecords: number;
  corruptRecords: number;
  /** {@link DiskLog.lost} after the recovery: lost seqs still to declare, with their cause. */
  lost: LostRange[];
}

interface Segment {
  file: string;
  /** Seq the first batch of this segment has (or will have). */
  firstSeq: number;
  /** Seq of its last batch; `firstSeq - 1` while it holds none. */
  lastSeq: number;
  bytes: number;
  /** Hash of batch `firstSeq - 1` (its checkpoint record); undefined when the checkpoint was unreadable. */
  prevHash: string | undefined;
  /** Hash of batch `lastSeq` ({@link prevHash} while it holds none). */
  lastHash: string | undefined;
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

/** A stretch of a segment that is not a sequence of valid records. */
interface BadRegion {
  start: number;
  end: number;
  /** It runs to the end of the buffer and is a record cut short: its length passes that end, or only zeros. */
  torn: boolean;
}

/** The record starting at `off` when it is whole, has a known type and its CRC matches; else undefined. */
function parseAt(buf: Buffer, off: number): ParsedRecord | undefined {
  if (off + HEADER + BODY_FIXED > buf.length) return undefined;
  const len = buf.readUInt32BE(off);
  if (len < BODY_FIXED || off + HEADER + len > buf.length) return undefined;
  const type = buf[off + HEADER];
  if (type !== TYPE_BATCH && type !== TYPE_CHECKPOINT) return undefined;
  const body = buf.subarray(off + HEADER, off + HEADER + len);
  if (crc32(body) !== buf.readUInt32BE(off + 4)) return undefined;
  return {
    start: off,
    type,
    seq: Number(body.readBigUInt64BE(1)),
    hash: body.subarray(9, BODY_FIXED).toString('hex'),
    payload: Buffer.from(body.subarray(BODY_FIXED)),
    end: off + HEADER + len,
  };
}

/**
 * Parses every valid record of a segment. Where one is short, has an unknown type or fails its CRC, a
 * bad region starts; it ends where the next valid record starts (the first later offset at which a
 * whole record with a known type and a matching CRC-32 begins), or at the end of `buf`.
 */
function scanRecords(buf: Buffer): { records: ParsedRecord[]; bad: BadRegion[] } {
  const records: ParsedRecord[] = [];
  const bad: BadRegion[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = parseAt(buf, off);
    if (r !== undefined) {
      records.push(r);
      off = r.end;
      continue;
    }
    let next = off + 1;
    // A record starts with a type byte of 1 or 2 after its 8 header bytes: JSON payloads have none, so
    // only a few offsets cost a CRC.
    for (; next + HEADER + BODY_FIXED <= buf.length; next++) {
      const t = buf[next + HEADER];
      if ((t === TYPE_BATCH || t === TYPE_CHECKPOINT) && parseAt(buf, next) !== undefined) break;
    }
    if (next + HEADER + BODY_FIXED > buf.length) next = buf.length;
    // Cut short: a record whose length passes the end, or only zeros to the end (a file extended by a
    // crash before its data reached the disk).
    const torn =
      next === buf.length &&
      (off + HEADER > buf.length ||
        off + HEADER + buf.readUInt32BE(off) > buf.length ||
        buf.subarray(off).every((b) => b === 0));
    bad.push({ start: off, end: next, torn });
    off = next;
  }
  return { records, bad };
}

/**
 * Seq and hash of a batch record's header at `off` when the length, type and the 41 fixed body bytes
 * are there (the CRC is not checked: for a torn record it cannot be); else undefined.
 */
function wholeHeader(buf: Buffer, off: number): { seq: number; hash: string } | undefined {
  if (off + HEADER + BODY_FIXED > buf.length || buf[off + HEADER] !== TYPE_BATCH) return undefined;
  if (buf.readUInt32BE(off) < BODY_FIXED) return undefined;
  return {
    seq: Number(buf.readBigUInt64BE(off + HEADER + 1)),
    hash: buf.toString('hex', off + HEADER + 9, off + HEADER + BODY_FIXED),
  };
}

/**
 * The highest seq a bad region at the end of the newest segment may have held, after `before`: the
 * largest seq read from something that looks like a batch header in it (type byte 1, seq above
 * `before` and no higher than one record per {@link HEADER} + {@link BODY_FIXED} bytes allows), at
 * least `before + 1`. A bound, not a count: seqs handed out are never handed out again.
 */
function highestSeqIn(buf: Buffer, region: BadRegion, before: number): number {
  const bound = before + Math.max(1, Math.ceil((region.end - region.start) / (HEADER + BODY_FIXED)));
  let to = before + 1;
  for (let o = region.start; o + HEADER + 9 <= region.end; o++) {
    if (buf[o + HEADER] !== TYPE_BATCH) continue;
    const seq = Number(buf.readBigUInt64BE(o + HEADER + 1));
    if (seq > to && seq <= bound) to = seq;
  }
  return to;
}

/** Size of the `head` file and of each of its two slots. */
const HEAD_SLOT = 8192;
const HEAD_BYTES = 2 * HEAD_SLOT;

/** What the `head` file holds (see the file comment). */
interface HeadState {
  gen: number;
  seq: number;
  hash: string;
  lost: LostRange[];
}

/** The newer valid slot of a `head` file's bytes, or undefined. */
function parseHead(buf: Buffer): HeadState | undefined {
  let best: HeadState | undefined;
  for (let slot = 0; slot + HEADER <= buf.length && slot < HEAD_BYTES; slot += HEAD_SLOT) {
    const len = buf.readUInt32BE(slot);
    if (len === 0 || slot + HEADER + len > Math.min(buf.length, slot + HEAD_SLOT)) continue;
    const body = buf.subarray(slot + HEADER, slot + HEADER + len);
    if (crc32(body) !== buf.readUInt32BE(slot + 4)) continue;
    try {
      const h = JSON.parse(body.toString('utf8')) as HeadState;
      if (typeof h.gen !== 'number' || typeof h.seq !== 'number' || typeof h.hash !== 'string') continue;
      if (!Array.isArray(h.lost)) continue;
      if (best === undefined || h.gen > best.gen) best = h;
    } catch {
      // a torn slot: the other one holds the state before it
    }
  }
  return best;
}

/** An error of a write that took fewer bytes than asked (the disk is full). */
class ShortWrite extends Error {
  readonly code = 'ESHORTWRITE';
}

/** Writes all of `buf` at `position` (null: the file position) or throws; a short write throws {@link ShortWrite}. */
function writeAll(fd: number, buf: Buffer, position: number | null = null): void {
  const n = writeSync(fd, buf, 0, buf.length, position);
  if (n !== buf.length) throw new ShortWrite(`short write: ${n} of ${buf.length} bytes (disk full?)`);
}

/** True for an error that means "no room on the disk". */
function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'ESHORTWRITE' || code === 'EFBIG';
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
  #readCache: { firstSeq: number; payloads: Buffer[]; hashes: string[] } | undefined;
  /** Memory-only mode keeps every unreleased payload here instead. */
  readonly #memory = new Map<number, Buffer>();
  #lastSeq = 0;
  #lastHash = GENESIS_HASH;
  #ackedThrough = 0;
  /**
   * What `acked` says: the newest acknowledged seq ≤ {@link ackedThrough} whose hash is known, and that
   * hash (see the file comment: it may trail the cursor, never pass it).
   */
  #ackedMark = { seq: 0, hash: GENESIS_HASH };
  /** Seqs above {@link ackedThrough} that need no sending: acknowledged out of order, skipped, lost. */
  readonly #acked = new SeqRanges();
  /** The newest seq handed out by {@link skip}, and its hash (it has no record to read it back from). */
  #lastSkip: { seq: number; hash: string } | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #opened = false;
  /** Lost seq ranges not yet declared in an acknowledged batch; `declaredIn`: first batch appended with it. */
  #lost: (LostRange & { declaredIn?: number })[] = [];
  /** The `head` file (see the file comment): fd, generation of the newer slot, unwritten changes. */
  #headFd: number | undefined;
  #headGen = 0;
  #headDirty = false;
  #full = false;
  #ackWriteFailing = false;
  /** Counters for status and metrics. `unloggedBatches`: seqs handed out by {@link skip}. */
  readonly stats = { droppedBatches: 0, tornRecords: 0, corruptRecords: 0, unloggedBatches: 0 };

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
    const from = this.firstAvailableSeq;
    if (from > this.#lastSeq) return 0;
    return this.#lastSeq - from + 1 - this.#acked.countIn(from, this.#lastSeq);
  }

  /**
   * What the log holds in memory, by kind (diagnostics and tests: none of it grows with the backlog).
   * `ackedRanges`: runs of acknowledged/skipped/lost seqs above the cursor; `tailRecords`: offsets
   * kept for the tail segment; `tailPayloads`: its cached unacknowledged payloads; `readBack`: payloads
   * of the older segment being read back.
   */
  memoryStats(): {
    segments: number;
    ackedRanges: number;
    tailRecords: number;
    tailPayloads: number;
    readBack: number;
    lostRanges: number;
    memoryPayloads: number;
  } {
    let tailPayloads = 0;
    for (const p of this.#tailCache) if (p !== undefined) tailPayloads++;
    return {
      segments: this.#segments.length,
      ackedRanges: this.#acked.ranges,
      tailRecords: this.#tailOffsets.length,
      tailPayloads,
      readBack: this.#readCache?.payloads.length ?? 0,
      lostRanges: this.#lost.length,
      memoryPayloads: this.#memory.size,
    };
  }
  /**
   * True when the log is full: the newest append was refused (bound reached under `block`, disk full,
   * short write), or under `drop-oldest` an append had to drop older batches. False again once an
   * append goes in under `block`, or acknowledged batches free a segment.
   */
  get full(): boolean {
    return this.#full;
  }
  /**
   * Seq ranges the log lost (full, dropped, torn, corrupt), lowest first, at most
   * {@link MAX_LOST_RANGES}: what the next batch declares in its `lost` field. A range stays here until
   * a batch appended while it was here is acknowledged; a restart keeps them (`head`).
   */
  get lost(): LostRange[] {
    return this.#lost.map(({ from, to, cause }) => ({ from, to, cause }));
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
          this.#ackedMark = { seq: a.ackedThrough, hash: a.hash };
          this.#lastSeq = a.ackedThrough;
          this.#lastHash = a.hash;
        }
      }
      const names = readdirSync(dir)
        .filter((n) => SEGMENT_RE.test(n))
        .sort();
      const lost: LostRange[] = [];
      /** Seqs that have a batch record in some segment (the others count as released below). */
      const recorded = new SeqRanges();
      /** Where the newest segment ended in a bad region: the seq it held (if any) and its hash (if known). */
      let tailLoss: { to: number; hash: string | undefined } | undefined;
      names.forEach((name, i) => {
        const file = path.join(dir, name);
        const buf = readFileSync(file);
        const { records, bad } = scanRecords(buf);
        const firstSeq = Number(SEGMENT_RE.exec(name)?.[1]);
        const isTail = i === names.length - 1;
        const nextFirst = isTail ? undefined : Number(SEGMENT_RE.exec(names[i + 1] as string)?.[1]);
        let keep = buf.length;
        for (const region of bad) {
          const before =
            records.filter((r) => r.type === TYPE_BATCH && r.end <= region.start).at(-1)?.seq ?? firstSeq - 1;
          const after = records.find((r) => r.type === TYPE_BATCH && r.start >= region.end)?.seq ?? nextFirst;
          const where = { file, offset: region.start, bytes: region.end - region.start };
          if (after !== undefined) {
            this.stats.corruptRecords++;
            if (after - 1 > before) lost.push({ from: before + 1, to: after - 1, cause: 'corrupt' });
            this.#log?.error(
              { ...where, lostFrom: before + 1, lostTo: after - 1 },
              'corrupt bytes in a segment: the records in them are lost, the log goes on at the next valid record',
            );
            continue;
          }
          // The end of the newest segment: cut off, so that appends go on after the last good record.
          keep = region.start;
          const header = wholeHeader(buf, region.start);
          if (region.torn) {
            this.stats.tornRecords++;
            if (header?.seq === before + 1) {
              lost.push({ from: header.seq, to: header.seq, cause: 'torn' });
              tailLoss = { to: header.seq, hash: header.hash };
            }
            this.#log?.warn(
              { ...where, lostSeq: header?.seq === before + 1 ? header.seq : null },
              header?.seq === before + 1
                ? 'torn last record cut off (gateway stopped mid-write); its seq is not used again'
                : 'torn last record cut off (gateway stopped mid-write); that batch was never published',
            );
          } else {
            this.stats.corruptRecords++;
            const to = highestSeqIn(buf, region, before);
            lost.push({ from: before + 1, to, cause: 'corrupt' });
            tailLoss = { to, hash: undefined };
            this.#log?.error(
              { ...where, lostFrom: before + 1, lostTo: to },
              'corrupt last record(s) cut off; their seqs are not used again',
            );
          }
        }
        if (keep < buf.length) {
          const fd = openSync(file, 'r+');
          ftruncateSync(fd, keep);
          fsyncSync(fd);
          closeSync(fd);
        }
        const seg: Segment = {
          file,
          firstSeq,
          lastSeq: firstSeq - 1,
          bytes: keep,
          prevHash: undefined,
          lastHash: undefined,
        };
        for (const r of records) {
          if (r.type === TYPE_CHECKPOINT) {
            if (r.seq === firstSeq - 1) {
              seg.prevHash = r.hash;
              seg.lastHash ??= r.hash;
            }
            if (r.seq >= this.#lastSeq) {
              this.#lastSeq = r.seq;
              this.#lastHash = r.hash;
            }
            continue;
          }
          seg.lastSeq = r.seq;
          seg.lastHash = r.hash;
          recorded.add(r.seq);
          if (r.seq > this.#lastSeq) {
            this.#lastSeq = r.seq;
            this.#lastHash = r.hash;
          }
          if (isTail) {
            this.#tailOffsets[r.seq - firstSeq] = r.start;
            if (r.seq > this.#ackedThrough) this.#tailCache[r.seq - firstSeq] = r.payload;
          }
        }
        this.#segments.push(seg);
      });
      if (tailLoss !== undefined && tailLoss.to > this.#lastSeq) {
        this.#lastSeq = tailLoss.to;
        // Unknown (corrupt): the chain goes on from the batch before the loss, as declared.
        if (tailLoss.hash !== undefined) this.#lastHash = tailLoss.hash;
      }
      if (this.#ackedThrough > this.#lastSeq) {
        this.#ackedThrough = this.#lastSeq;
        this.#ackedMark = { seq: this.#lastSeq, hash: this.#lastHash };
      }
      const head = this.#openHead(dir);
      if (head !== undefined && head.seq > this.#lastSeq) {
        // Batches the log could not take before the restart: their seqs were handed out.
        this.#lastSeq = head.seq;
        this.#lastHash = head.hash;
      }
      for (const r of [...(head?.lost ?? []), ...lost].sort((a, b) => a.from - b.from)) {
        const from = Math.max(r.from, this.#ackedThrough + 1);
        if (from > r.to) continue;
        if (!this.#lost.some((l) => l.from <= from && r.to <= l.to)) this.#addLost(from, r.to, r.cause);
        this.#markReleased(from, r.to);
      }
      // A seq with no record can never be sent from the log (skipped, lost, or in a segment released
      // after the last write of `acked`): it counts as released, so that the cursor can pass it.
      let s = this.#ackedThrough + 1;
      for (const [from, to] of recorded) {
        if (to < s) continue;
        if (from > s) this.#markReleased(s, Math.min(from - 1, this.#lastSeq));
        s = Math.max(s, to + 1);
      }
      if (s <= this.#lastSeq) this.#markReleased(s, this.#lastSeq);
      if (this.#lost.length > 0 || (head !== undefined && head.seq !== this.#lastSeq)) this.#writeHead();
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
      lost: this.lost,
    };
  }

  /** Adds a lost range (merged with the newest one when they touch and share the cause), for {@link lost}. */
  #addLost(from: number, to: number, cause: LostCause): void {
    const last = this.#lost.at(-1);
    if (last !== undefined && last.cause === cause && last.to + 1 === from) {
      last.to = to;
      delete last.declaredIn; // the new part was declared nowhere yet
    } else {
      this.#lost.push({ from, to, cause });
      this.#lost.sort((a, b) => a.from - b.from);
    }
    // Bounded like the wire field: the two oldest become one (its seqs the collector holds stay held).
    while (this.#lost.length > MAX_LOST_RANGES) {
      const [a, b] = this.#lost as [LostRange, LostRange];
      this.#lost.splice(0, 2, { from: a.from, to: Math.max(a.to, b.to), cause: a.cause });
    }
    this.#headDirty = true;
  }

  /** Lost seqs `from..to` count as released: nothing is sent for them and the cursor goes past them. */
  #markReleased(from: number, to: number): void {
    if (from <= this.#ackedThrough + 1) {
      this.#advanceAcked(to);
      return;
    }
    this.#acked.addRange(from, to);
  }

  /** Opens (creating it when missing) the `head` file and reads it; undefined when it holds nothing. */
  #openHead(dir: string): HeadState | undefined {
    const file = path.join(dir, 'head');
    let state: HeadState | undefined;
    try {
      if (existsSync(file) && statSync(file).size === HEAD_BYTES) state = parseHead(readFileSync(file));
      else {
        // Written whole once, overwritten in place afterwards: needs no new blocks on a full disk.
        const tmpFile = `${file}.tmp`;
        const fd = openSync(tmpFile, 'w');
        try {
          writeAll(fd, Buffer.alloc(HEAD_BYTES));
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tmpFile, file);
        const dfd = openSync(dir, 'r');
        fsyncSync(dfd);
        closeSync(dfd);
      }
      this.#headFd = openSync(file, 'r+');
    } catch (err) {
      this.#log?.error(
        { file, err: (err as Error).message },
        'cannot create the head file: batches the log cannot take are not published',
      );
    }
    this.#headGen = state?.gen ?? 0;
    return state;
  }

  /**
   * Writes the newest seq, its hash and {@link lost} to the older slot of `head` and fdatasyncs it.
   * @returns false when that failed (or there is no head file): the seq may then be handed out again
   *   after a restart, so a batch with it must not leave the gateway
   */
  #writeHead(): boolean {
    if (this.#dir === undefined) return true;
    const fd = this.#headFd;
    if (fd === undefined) return false;
    const gen = this.#headGen + 1;
    const body = Buffer.from(
      JSON.stringify({ gen, seq: this.#lastSeq, hash: this.#lastHash, lost: this.lost }),
      'utf8',
    );
    if (HEADER + body.length > HEAD_SLOT) return false; // cannot happen with MAX_LOST_RANGES ranges
    const rec = Buffer.allocUnsafe(HEADER + body.length);
    rec.writeUInt32BE(body.length, 0);
    rec.writeUInt32BE(crc32(body), 4);
    body.copy(rec, HEADER);
    try {
      writeAll(fd, rec, (gen % 2) * HEAD_SLOT);
      if (this.#fsync) fdatasyncSync(fd);
    } catch (err) {
      this.#log?.error({ err: (err as Error).message }, 'cannot write the head file');
      return false;
    }
    this.#headGen = gen;
    this.#headDirty = false;
    return true;
  }

  /** True when a batch of `payloadBytes` would not fit without dropping or blocking. */
  wouldOverflow(payloadBytes: number): boolean {
    return this.bytes + HEADER + BODY_FIXED + payloadBytes > this.#maxBytes;
  }

  /**
   * Appends the next batch: written (every byte count checked) and fsync'd before this returns. The
   * caller puts {@link lost}, as it is before the call, into the batch: those ranges then count as
   * declared in `seq` (see {@link lost}).
   * @param seq must be `lastSeq + 1`
   * @param hash SHA-256 hex of the batch's canonical bytes
   * @param payload the batch exactly as it will be published (a string is stored as its UTF-8 bytes)
   * @returns the payload's bytes as stored (what {@link read} returns for `seq`)
   * @throws MrvError `MRV_E_BUFFER_FULL` when the bound is reached under `block`, or the disk is full
   *   (ENOSPC, a short write: cut off again) and no older segment may be dropped; `MRV_E_BUFFER` when
   *   the disk write fails otherwise. Nothing is appended then and `seq` is not used: give it to
   *   {@link skip}.
   */
  append(seq: number, hash: string, payload: Buffer | string): Buffer {
    if (!this.#opened) throw new Error('DiskLog.append before open()');
    if (seq !== this.#lastSeq + 1) throw new Error(`DiskLog.append: seq ${seq} after ${this.#lastSeq}`);
    const payloadBytes = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
    const declared = this.#lost.map((r) => [r, r.to] as const);
    let dropped = false;
    if (this.wouldOverflow(payloadBytes)) {
      if (this.#whenFull === 'block') {
        this.#full = true;
        throw new MrvError(
          'MRV_E_BUFFER_FULL',
          `store-and-forward log full (${this.bytes} of ${this.#maxBytes} bytes)`,
          {
            bytes: this.bytes,
            maxBytes: this.#maxBytes,
          },
        );
      }
      this.#dropOldest(payloadBytes);
      dropped = true;
    }
    let stored: Buffer;
    if (this.#dir === undefined) {
      stored = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
      this.#memory.set(seq, stored);
    } else {
      for (;;) {
        try {
          stored = this.#appendToDisk(seq, hash, payload);
          break;
        } catch (err) {
          const noSpace = isNoSpace(err);
          if (noSpace && this.#whenFull === 'drop-oldest' && this.#segments.length > 1) {
            this.#dropSegment(); // the disk is full before the bound: make room the same way
            dropped = true;
            continue;
          }
          if (noSpace) this.#full = true;
          throw new MrvError(
            noSpace ? 'MRV_E_BUFFER_FULL' : 'MRV_E_BUFFER',
            `cannot append to the buffer: ${(err as Error).message}`,
            { seq, ...(noSpace ? { bytes: this.bytes, maxBytes: this.#maxBytes } : {}) },
            { cause: err },
          );
        }
      }
    }
    // Under drop-oldest the log stays full (at its limit, dropping) until acknowledgements free a segment.
    if (dropped) this.#full = true;
    else if (this.#whenFull === 'block') this.#full = false;
    this.#lastSeq = seq;
    this.#lastHash = hash;
    for (const [r, to] of declared) if (r.to === to && this.#lost.includes(r)) r.declaredIn ??= seq;
    if (this.#groupCommit && this.#dir !== undefined && this.#fsync) this.#scheduleSync();
    return stored;
  }

  /**
   * Hands out `seq` for a batch that {@link append} could not take: it joins {@link lost} (with
   * `cause`), counts as released (nothing is read or sent for it from the log) and the chain goes on
   * from `hash`. Recorded in the `head` file first, so that no restart hands `seq` out again.
   * @param seq must be `lastSeq + 1`
   * @param hash SHA-256 hex of the batch's canonical bytes
   * @returns true when recorded durably (memory mode: always): the batch may then be published from
   *   memory; false when the head file could not be written: the batch must not leave the gateway
   */
  skip(seq: number, hash: string, cause: LostCause = 'buffer_full'): boolean {
    if (!this.#opened) throw new Error('DiskLog.skip before open()');
    if (seq !== this.#lastSeq + 1) throw new Error(`DiskLog.skip: seq ${seq} after ${this.#lastSeq}`);
    this.#lastSkip = { seq, hash };
    this.#lastSeq = seq;
    this.#lastHash = hash;
    this.stats.unloggedBatches++;
    this.#addLost(seq, seq, cause);
    const before = this.#ackedThrough;
    this.#acked.add(seq);
    this.#advanceContiguous();
    if (this.#ackedThrough !== before) {
      this.#releaseSegments();
      this.#scheduleAckWrite();
    }
    // Nothing to flush for it: durable as soon as everything before it is.
    if (!this.#syncing && this.#durableSeq >= seq - 1) this.#durableSeq = seq;
    else if (this.#groupCommit && this.#fsync) this.#scheduleSync();
    return this.#writeHead();
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
      const file = path.join(dir, segmentName(seq));
      // The checkpoint is durable before the first batch goes in: a torn first batch leaves the head.
      // Until then the old tail stays the tail: a disk too full for the new segment changes nothing.
      const cp = frame(TYPE_CHECKPOINT, this.#lastSeq, this.#lastHash, Buffer.alloc(0));
      let fd: number | undefined;
      try {
        fd = openSync(file, 'w+');
        writeAll(fd, cp);
        fsyncSync(fd);
        const dfd = openSync(dir, 'r');
        fsyncSync(dfd);
        closeSync(dfd);
      } catch (err) {
        if (fd !== undefined) closeSync(fd);
        try {
          unlinkSync(file);
        } catch {
          // never created
        }
        throw err;
      }
      if (this.#tailFd !== undefined) this.#closeTail(this.#tailFd);
      tail = {
        file,
        firstSeq: seq,
        lastSeq: seq - 1,
        bytes: cp.length,
        prevHash: this.#lastHash,
        lastHash: this.#lastHash,
      };
      this.#segments.push(tail);
      this.#tailFd = fd;
      this.#tailCache = [];
      this.#tailOffsets = [];
    }
    const fd = this.#tailFd as number;
    try {
      writeAll(fd, record);
      if (this.#fsync && !this.#groupCommit) fdatasyncSync(fd);
    } catch (err) {
      // A short write (or a failed flush) leaves part of the record: cut it off, nothing was appended.
      try {
        ftruncateSync(fd, tail.bytes);
      } catch (e) {
        this.#log?.error({ err: (e as Error).message }, 'cannot cut off a failed append');
      }
      throw err;
    }
    const stored = record.subarray(HEADER + BODY_FIXED);
    this.#tailOffsets[seq - tail.firstSeq] = tail.bytes;
    tail.bytes += record.length;
    tail.lastSeq = seq;
    tail.lastHash = hash;
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
        this.#forgetDeclarations(oldest.value, oldest.value);
        if (!this.#acked.has(oldest.value)) {
          this.#addLost(oldest.value, oldest.value, 'dropped');
          this.#noteDropped(oldest.value, oldest.value);
        }
        this.#advanceAcked(oldest.value);
        continue;
      }
      if (this.#segments.length < 2) return; // only the tail left: a single oversized batch still goes in
      this.#dropSegment();
    }
  }

  /** Deletes the oldest segment (not the tail): its unacknowledged batches are dropped, and declared lost. */
  #dropSegment(): void {
    const seg = this.#segments.shift() as Segment;
    unlinkSync(seg.file);
    this.#forgetDeclarations(seg.firstSeq, seg.lastSeq);
    let n = 0;
    let run: number | undefined;
    const from = Math.max(seg.firstSeq, this.#ackedThrough + 1);
    for (let s = from; s <= seg.lastSeq + 1; s++) {
      const unsent = s <= seg.lastSeq && !this.#acked.has(s);
      if (unsent) {
        n++;
        run ??= s;
      } else if (run !== undefined) {
        this.#addLost(run, s - 1, 'dropped');
        run = undefined;
      }
    }
    if (n > 0) this.#noteDropped(from, seg.lastSeq, n);
    this.#advanceAcked(seg.lastSeq, seg.lastHash);
    if (this.#readCache?.firstSeq === seg.firstSeq) this.#readCache = undefined;
  }

  /** Lost ranges declared in batches `from..to`, which are being dropped: they must be declared again. */
  #forgetDeclarations(from: number, to: number): void {
    for (const r of this.#lost)
      if (r.declaredIn !== undefined && r.declaredIn >= from && r.declaredIn <= to) delete r.declaredIn;
  }

  #noteDropped(from: number, to: number, n = to - from + 1): void {
    this.stats.droppedBatches += n;
    this.#log?.error(
      { from, to, batches: n },
      'store-and-forward log full: oldest unsent batches dropped (policy drop-oldest)',
    );
  }

  /**
   * Marks everything up to `seq` as released (dropped), keeping the chain-head cursor consistent.
   * `hash`: batch `seq`'s hash when the caller knows it (a segment being deleted).
   */
  #advanceAcked(seq: number, hash?: string): void {
    if (seq <= this.#ackedThrough) return;
    this.#ackedThrough = seq;
    this.#acked.deleteThrough(seq);
    if (hash !== undefined) this.#ackedMark = { seq, hash };
    this.#advanceContiguous();
    this.#scheduleAckWrite();
  }

  #advanceContiguous(): void {
    for (let to = this.#acked.runFrom(this.#ackedThrough + 1); to !== undefined; ) {
      this.#ackedThrough = to;
      this.#acked.deleteThrough(to);
      to = this.#acked.runFrom(to + 1);
    }
    if (this.#ackedMark.seq !== this.#ackedThrough) {
      const hash = this.#hashAt(this.#ackedThrough);
      // Not found cheaply: `acked` keeps the older cursor (see the file comment).
      if (hash !== undefined) this.#ackedMark = { seq: this.#ackedThrough, hash };
    }
    // A declaration acknowledged: the collector has it (a range from a dropped batch was forgotten).
    const before = this.#lost.length;
    this.#lost = this.#lost.filter((r) => r.declaredIn === undefined || r.declaredIn > this.#ackedThrough);
    if (this.#lost.length !== before) this.#headDirty = true;
  }

  /**
   * The hash of batch `seq` when it can be had without reading a segment that is not being read back
   * anyway: the newest batch, the newest skip, a segment's first-but-one or last batch, a batch of the
   * tail segment (its record header, one small read) or of the segment being read back; else undefined.
   */
  #hashAt(seq: number): string | undefined {
    if (seq === this.#lastSeq) return this.#lastHash;
    if (seq === 0) return GENESIS_HASH;
    if (seq === this.#lastSkip?.seq) return this.#lastSkip.hash;
    const tail = this.#segments.at(-1);
    for (const seg of this.#segments) {
      if (seq === seg.firstSeq - 1 && seg.prevHash !== undefined) return seg.prevHash;
      if (seq < seg.firstSeq || seq > seg.lastSeq) continue;
      if (seq === seg.lastSeq) return seg.lastHash;
      if (this.#readCache?.firstSeq === seg.firstSeq) return this.#readCache.hashes[seq - seg.firstSeq];
      return seg === tail ? this.#readTailHash(seq) : undefined;
    }
    return undefined;
  }

  /**
   * When `acked` would trail the cursor, reads the hash of batch {@link ackedThrough} from its segment
   * (one segment read; at close, so that a clean restart sends nothing again).
   */
  #markFromSegment(): void {
    const seq = this.#ackedThrough;
    if (this.#ackedMark.seq === seq || this.#dir === undefined) return;
    const seg = this.#segments.find((s) => s.firstSeq <= seq && seq <= s.lastSeq);
    if (seg === undefined) return;
    try {
      const r = scanRecords(readFileSync(seg.file)).records.find(
        (x) => x.type === TYPE_BATCH && x.seq === seq,
      );
      if (r !== undefined) this.#ackedMark = { seq, hash: r.hash };
    } catch (err) {
      this.#log?.warn(
        { file: seg.file, err: (err as Error).message },
        'cannot read back the acknowledged cursor',
      );
    }
  }

  /** The hash in the header of batch `seq`'s record in the tail segment, or undefined. */
  #readTailHash(seq: number): string | undefined {
    const tail = this.#segments.at(-1) as Segment;
    const offset = this.#tailOffsets[seq - tail.firstSeq];
    if (offset === undefined || this.#tailFd === undefined) return undefined;
    const head = Buffer.allocUnsafe(HEADER + BODY_FIXED);
    try {
      if (readSync(this.#tailFd, head, 0, head.length, offset) !== head.length) return undefined;
    } catch {
      return undefined; // the cursor's hash then trails (see the file comment)
    }
    const h = wholeHeader(head, 0);
    return h?.seq === seq ? h.hash : undefined;
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
        const { records } = scanRecords(readFileSync(seg.file));
        const payloads: Buffer[] = [];
        const hashes: string[] = [];
        for (const r of records) {
          if (r.type !== TYPE_BATCH) continue;
          payloads[r.seq - seg.firstSeq] = r.payload;
          hashes[r.seq - seg.firstSeq] = r.hash;
        }
        this.#readCache = { firstSeq: seg.firstSeq, payloads, hashes };
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
      const r = parseAt(record, 0);
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

  /**
   * Records the acknowledgement of `seq` (it may be released); whole segments acknowledged are deleted
   * (never the tail), and lost ranges declared in an acknowledged batch leave {@link lost}.
   */
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
      // Its last batch is acknowledged: the best cursor `acked` can say once its hash is gone with it.
      if (this.#ackedMark.seq < seg.lastSeq && seg.lastHash !== undefined)
        this.#ackedMark = { seq: seg.lastSeq, hash: seg.lastHash };
      // Room again under drop-oldest (under block the next append says whether it fits).
      if (this.#whenFull === 'drop-oldest') this.#full = false;
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
        JSON.stringify({ ackedThrough: this.#ackedMark.seq, hash: this.#ackedMark.hash }),
      );
      renameSync(`${file}.tmp`, file);
      this.#ackWriteFailing = false;
    } catch (err) {
      // Said once per streak (a full disk fails this every 100 ms), then at debug level.
      const fields = { err: (err as Error).message };
      const message = 'cannot record acknowledged batches; they may be sent again';
      if (this.#ackWriteFailing) this.#log?.debug(fields, message);
      else this.#log?.warn(fields, message);
      this.#ackWriteFailing = true;
    }
    if (this.#headDirty) this.#writeHead();
  }

  /** Writes the acknowledged cursor and closes the tail segment. Idempotent. */
  close(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#opened) {
      this.#markFromSegment();
      this.#writeAcked();
    }
    if (this.#tailFd !== undefined) this.#closeTail(this.#tailFd);
    this.#tailFd = undefined;
    if (this.#headFd !== undefined) closeSync(this.#headFd);
    this.#headFd = undefined;
  }

  /** Size of a segment file on disk (for tests and diagnostics). */
  static fileSize(file: string): number {
    return statSync(file).size;
  }
}
