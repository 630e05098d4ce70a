/**
 * The collector's integrity checks (docs/architecture.md §5, issue 4): for every received batch, in arrival order,
 * decide whether it is new, a redelivery or a conflicting version of a stored seq; check its Ed25519
 * signature against the key registry, its `prevHash` against the previous batch of its gateway, its
 * `seq` for gaps and its clocks; and say what to write: readings, findings and the archive record.
 *
 * Policy, per batch (key = unit, gateway, seq):
 * - **New** (seq above the gateway's head, or a late batch filling a gap): readings, archive record and
 *   findings are written. A batch whose signature fails (`MRV_F_BAD_SIGNATURE`) or cannot be checked
 *   (`MRV_F_UNKNOWN_KEY`), or signed by a key of its gateway at a time the key was revoked or not valid
 *   (`MRV_F_KEY_REVOKED`), is still stored, never dropped, but **quarantined**: its readings go to the
 *   store's quarantine with the finding code as cause, good ones as `uncertain` (never among the readings, so they replace or
 *   shadow no verified reading and reach no series, completeness or evidence), the archive marks it
 *   `failed`, and it is kept off the live feed. It takes no part in the chain state either: it moves no
 *   head, opens or closes no hole (no gap finding for a forged high seq), declares nothing lost and
 *   raises no broken link against its neighbours. A verified batch arriving later with the seq of a
 *   quarantined one above the head supersedes it (`MRV_F_SEQ_CONFLICT`, the forged copy in the detail).
 *   A batch signed by a registered key of **another** unit or gateway (`MRV_F_KEY_MISMATCH`) is a
 *   forgery: it is rejected whole (`IntegrityPlan.rejected`, the collector's dead-letter topic), only
 *   the finding is stored.
 * - **Redelivery** (same seq, same SHA-256): nothing is written again; counted. When it arrives more than
 *   `replayWindowMs` after the stored copy, `MRV_F_REPLAY` is raised. (The signature is outside the
 *   hash: a copy whose signature verifies replaces a stored copy whose signature did not.)
 * - **Conflict** (same seq, different bytes): `MRV_F_SEQ_CONFLICT`. A verified version replaces an
 *   unverified stored one (readings and archive); otherwise the stored version stays and the new one is
 *   kept whole (canonical bytes and sig) in the finding's detail, its readings not written.
 *
 * The chain state (newest seq and hash per gateway) comes from the store's archive at the first flush
 * and advances only after a successful write, so a collector restarted at any point resumes correctly.
 *
 * **Shared mode** (`shared: true`, several collectors on one MQTT shared subscription, docs/scale-out.md
 * "Scale-out"): the broker spreads one gateway's batches over the collectors, so no collector sees all
 * of them in order and none may keep a chain head of its own. The archive in the store is then the only
 * shared state: for every flush, the collector reads the links ({@link TimeSeriesStore.listBatchLinks})
 * of the seq range it holds, plus the predecessor of its lowest seq, and decides new / redelivery /
 * conflict from them; the chain is checked wherever the predecessor is already archived or in the same
 * flush. Seq gaps, and chain links whose two batches were stored by different collectors at the same
 * time, are left to the periodic audit of collector/chain-audit.ts.
 *
 * **Findings lifecycle** (sole mode): a plan names in `review` the gateways whose open gap and
 * broken-link findings its batches may resolve (a late batch, a verified version replacing a stored one,
 * the gateway's first batch since start, unless the gateway's last review left nothing open); the
 * collector reviews them after the write (collector/finding-lifecycle.ts). In shared mode the chain audit
 * reviews every gateway every round.
 */

import { canonicalJson } from '../core/schema/canonical.ts';
import type { Finding, IntegrityFindingCode } from '../core/schema/finding.ts';
import { IntegrityFindingCodes } from '../core/schema/finding.ts';
import { type Batch, GENESIS_HASH, type LostRange, type Reading } from '../core/schema/wire.ts';
import { sha256Hex } from '../core/signing.ts';
import { isoMs, parseIsoMs } from '../core/time.ts';
import type { KeyRegistry } from './keys.ts';
import type { ArchivedBatch, BatchLink, StoredReading, TimeSeriesStore } from './store.ts';
import { quarantinedLink } from './store-checks.ts';

/** An archived or planned version of a batch, with its bytes when they were read. */
type Known = BatchLink & Partial<Pick<ArchivedBatch, 'canonical' | 'sig'>>;

/** A received, schema-valid batch waiting to be stored. */
export interface ReceivedBatch {
  batch: Batch;
  /** Collector clock at receipt, ms epoch. */
  receivedAt: number;
  /** point → device from the gateway's catalogue, when known. */
  devices?: Map<string, string> | undefined;
}

/** Options of {@link IntegrityChecker}. */
export interface IntegrityOptions {
  /** Gateway public keys; absent = signatures are not checked (archive verdict `unchecked`). */
  keys?: KeyRegistry | undefined;
  /** A redelivery later than this after the stored copy raises `MRV_F_REPLAY` (ms). Default 10 min. */
  replayWindowMs?: number;
  /** Allowed clock difference (gateway ahead of collector; device vs gateway), ms. Default 5 min. */
  maxClockSkewMs?: number;
  /** Shared mode (see the file comment): no chain heads, no gap findings at arrival. Default false. */
  shared?: boolean;
}

/** What one flush writes. */
export interface IntegrityPlan {
  /** Readings to write; those of quarantined batches carry {@link StoredReading.quarantine}. */
  rows: StoredReading[];
  findings: Finding[];
  archive: ArchivedBatch[];
  /** Batches whose readings are written among the readings, quarantined ones not (for the live feed). */
  stored: ReceivedBatch[];
  duplicates: number;
  /** Batches whose verification failed (signature, key, chain, conflict). */
  verificationFailures: number;
  /** New chain heads, applied by {@link IntegrityChecker.commit} after the writes succeeded. */
  heads: Map<string, { seq: number; hash: string }>;
  /** Sole mode: the holes still waited for per gateway after this plan, applied by commit. */
  waiting: Map<string, Waiting>;
  /** Sole mode: holes the gateways no longer hold, not yet reported, after this plan. */
  released: Map<string, Waiting>;
  /**
   * Sole mode: gateways (`unit/gateway`) whose open gap and broken-link findings this plan's batches may
   * resolve (a late batch, a verified version replacing a stored one, the gateway's first batch since
   * start), queued by commit for {@link IntegrityChecker.reviewsDue}.
   */
  review: Set<string>;
  /**
   * Batches rejected whole (signed by a key of another unit or gateway, `MRV_F_KEY_MISMATCH`): no reading,
   * no archive record, no chain head; the collector sends each to its dead-letter topic and counts it.
   */
  rejected: { item: ReceivedBatch; finding: Finding }[];
  /**
   * Batches whose seq the store holds a trusted copy of after this plan (written now and not
   * quarantined, or found stored already and not failed): the collector confirms exactly these to
   * their gateways (core/schema/delivery.ts), which then release them. A quarantined or rejected batch
   * is never confirmed: a forgery claiming another gateway's seq must not make that gateway release its
   * genuine batch.
   */
  confirmed: ReceivedBatch[];
}

/** A list of device ids for a message, `—` when empty. */
function list(v: unknown): string {
  return Array.isArray(v) && v.length > 0 ? v.join(', ') : '—';
}

const MESSAGES: Record<IntegrityFindingCode, (d: Record<string, unknown>) => { zh: string; en: string }> = {
  MRV_F_SEQ_GAP: (d) => ({
    zh: `网关 ${d.gatewayId} 的批次 ${d.from}–${d.to} 缺失（共 ${d.missing} 批）${d.cause ? `，网关已声明丢失，原因：${d.cause}` : ''}`,
    en: `gateway ${d.gatewayId}: batches ${d.from}..${d.to} are missing (${d.missing} batches)${d.cause ? `: gap declared by the gateway, cause ${d.cause}` : ''}`,
  }),
  MRV_F_BAD_SIGNATURE: (d) => ({
    zh: `网关 ${d.gatewayId} 的批次 ${d.seq} 签名验证失败${d.sig ? '' : '（未签名）'}，数据已存储并标记为不确定`,
    en: `gateway ${d.gatewayId}: batch ${d.seq} ${d.sig ? 'has a signature that does not verify' : 'is not signed'}; stored and marked uncertain`,
  }),
  MRV_F_UNKNOWN_KEY: (d) => ({
    zh: `网关 ${d.gatewayId} 未登记公钥，批次 ${d.seq} 无法验证签名`,
    en: `gateway ${d.gatewayId} has no registered public key; batch ${d.seq} cannot be verified`,
  }),
  MRV_F_KEY_MISMATCH: (d) => ({
    zh: `批次 ${d.seq} 声称来自网关 ${d.gatewayId}，却由 ${d.keyUnitId}/${d.keyGatewayId} 的密钥 ${d.keyId} 签名：疑似伪造，已拒收（死信），未存储任何读数`,
    en: `batch ${d.seq} claims gateway ${d.gatewayId} but is signed by key ${d.keyId} of ${d.keyUnitId}/${d.keyGatewayId}: forgery suspected; rejected to the dead letters, no reading stored`,
  }),
  MRV_F_KEY_REVOKED: (d) => ({
    zh: `网关 ${d.gatewayId} 的批次 ${d.seq}（发送于 ${d.sentAt}）由${d.reason === 'revoked' ? `已于 ${d.revokedAt} 吊销` : '不在有效期内'}的密钥 ${d.keyId} 签名，数据已存储并标记为不确定`,
    en: `gateway ${d.gatewayId}: batch ${d.seq} (sent ${d.sentAt}) is signed by key ${d.keyId}, ${d.reason === 'revoked' ? `revoked at ${d.revokedAt}` : 'outside its validity'}; stored and marked uncertain`,
  }),
  MRV_F_CHAIN_BROKEN: (d) => ({
    zh: `网关 ${d.gatewayId} 的批次 ${d.seq} 哈希链断裂：prevHash 与批次 ${Number(d.seq) - 1} 的哈希不符`,
    en: `gateway ${d.gatewayId}: hash chain broken at batch ${d.seq}: prevHash is not the hash of batch ${Number(d.seq) - 1}`,
  }),
  MRV_F_REPLAY: (d) => ({
    zh: `网关 ${d.gatewayId} 的旧批次 ${d.seq} 被再次发送（首次接收于 ${d.firstReceivedAt}），未重复存储`,
    en: `gateway ${d.gatewayId}: old batch ${d.seq} received again (first at ${d.firstReceivedAt}); not stored twice`,
  }),
  MRV_F_SEQ_CONFLICT: (d) => ({
    zh: `网关 ${d.gatewayId} 的批次 ${d.seq} 出现内容不同的两个版本`,
    en: `gateway ${d.gatewayId}: two different batches carry seq ${d.seq}`,
  }),
  MRV_F_CONFIG_CHANGED: (d) => ({
    zh: `网关 ${d.gatewayId} 自批次 ${d.seq} 起采用新的站点配置（${String(d.hash).slice(0, 12)}，原 ${String(d.previous).slice(0, 12)}）：新增 ${list(d.added)}，移除 ${list(d.removed)}，变更 ${list(d.changed)}`,
    en: `gateway ${d.gatewayId}: new site configuration from batch ${d.seq} on (${String(d.hash).slice(0, 12)}, was ${String(d.previous).slice(0, 12)}): added ${list(d.added)}, removed ${list(d.removed)}, changed ${list(d.changed)}`,
  }),
  MRV_F_CLOCK_SKEW: (d) => ({
    zh: `网关 ${d.gatewayId} 的批次 ${d.seq} 时钟偏差超过 ${d.maxSkewS} 秒（${d.what}）`,
    en: `gateway ${d.gatewayId}: batch ${d.seq} clock off by more than ${d.maxSkewS} s (${d.what})`,
  }),
};

/** Builds an integrity finding with its bilingual message, severity and class from the catalogue. */
export function integrityFinding(
  code: IntegrityFindingCode,
  at: {
    unitId: string;
    gatewayId: string;
    /** Distinguishes findings of one code for one gateway (a seq, a range). */
    key: string;
    ts: string;
    at: number;
  },
  detail: Record<string, unknown>,
): Finding {
  const meta = IntegrityFindingCodes[code];
  return {
    id: `integrity/${at.unitId}/${at.gatewayId}/${code}/${at.key}`,
    unitId: at.unitId,
    gatewayId: at.gatewayId,
    source: 'integrity',
    code,
    class: meta.class,
    severity: meta.severity,
    message: MESSAGES[code]({ gatewayId: at.gatewayId, ...detail }),
    detail,
    ts: at.ts,
    at: isoMs(at.at),
  };
}

/** Keeps the chain heads and applies the policy of the file comment. */
export class IntegrityChecker {
  #heads: Map<string, { seq: number; hash: string }> | undefined;
  /** Sole mode: holes per gateway whose batches are still in the gateway's log (see `backlogFrom`). */
  readonly #waiting = new Map<string, Waiting>();
  /**
   * Sole mode: links of the batches this collector stored lately (by `unit/gateway#seq`, oldest first,
   * at most {@link RECENT_LINKS}), so that a backlog arriving behind newer batches is checked without
   * reading the store for every batch.
   */
  readonly #recent = new Map<string, BatchLink>();
  /** Sole mode: holes per gateway the gateway no longer holds, to report with {@link dueGaps}. */
  readonly #released = new Map<string, Waiting>();
  /**
   * Seq ranges each gateway declared lost by its own fault (Batch `lost`), with the cause and the seq
   * of the first batch that declared them: {@link dueGaps} reports a hole in them with that cause, and
   * a link into a batch after them may start at the batch before them ({@link declaredLink}).
   */
  readonly #declared = new Map<string, (LostRange & { declaredIn: number })[]>();
  /** Sole mode: gateways whose findings wait for a review (finding-lifecycle.ts), and those seen since start. */
  readonly #toReview = new Set<string>();
  readonly #seen = new Set<string>();
  /**
   * Sole mode: gateways whose last review left no gap or broken-link finding open and that have raised
   * none since: a late batch of theirs has nothing to resolve, so it asks for no review (a drained
   * backlog would otherwise cost two findings queries per write).
   */
  readonly #clean = new Set<string>();

  constructor(private readonly opts: IntegrityOptions = {}) {}

  /** True when signatures are checked. */
  get verifying(): boolean {
    return this.opts.keys !== undefined;
  }

  /**
   * Decides what to write for `items` (in arrival order). Reads the store (heads once, archived copies
   * of seqs at or below a head); writes nothing.
   *
   * `inflight`: the plans made before this one and not yet committed, oldest first (the collector's
   * write groups in flight, docs/delivery.md "Pipelined writes"): this plan sees the state as if they
   * were committed (their heads, holes, archive records, reviews), so it is the plan a commit of them
   * would have led to. The caller commits the plans in the order they were made; when one of them is
   * not committed (its write failed), every plan made after it is discarded and made again.
   * @throws MrvError `MRV_E_STORE` when the store cannot be read (the caller retries the whole flush)
   */
  async plan(
    items: readonly ReceivedBatch[],
    store: TimeSeriesStore,
    now: number,
    inflight: readonly IntegrityPlan[] = [],
  ): Promise<IntegrityPlan> {
    const shared = this.opts.shared === true;
    if (this.#heads === undefined) {
      const heads = shared ? [] : await store.batchHeads();
      this.#heads = new Map(heads.map((h) => [`${h.unitId}/${h.gatewayId}`, { seq: h.seq, hash: h.hash }]));
    }
    const layer = layerOf(this.#heads, inflight);
    const committed = layer.heads;
    /** The newest state of a gateway's holes: of the latest plan in flight that touched them, else committed. */
    const waitingNow = (gw: string): Waiting | undefined => layer.waiting.get(gw) ?? this.#waiting.get(gw);
    const releasedNow = (gw: string): Waiting | undefined => layer.released.get(gw) ?? this.#released.get(gw);
    /** Sole mode: memory says whether `seq` of `gw` is stored (or planned in flight). */
    const remembers = (gw: string, seq: number): boolean =>
      layer.records.has(`${gw}#${seq}`) ||
      this.#recent.has(`${gw}#${seq}`) ||
      waitingNow(gw)?.has(seq) === true;
    /** The archive record of a seq planned in flight, else the one this collector stored lately. */
    const recentOf = (key: string): Known | undefined => layer.records.get(key) ?? this.#recent.get(key);
    const clean = (gw: string): boolean => this.#clean.has(gw) && !layer.unclean.has(gw);
    /**
     * The archived links of the seq ranges in this flush (and their neighbours), one query per
     * gateway: always in shared mode; in sole mode for batches at or below their gateway's head (a
     * backlog sent behind newer batches), which would otherwise cost three reads each.
     */
    const lookups = shared
      ? items
      : items.filter(({ batch: b }) => {
          const gw = `${b.unitId}/${b.gatewayId}`;
          if (b.seq > (committed.get(gw)?.seq ?? 0)) return false;
          // Answered from memory when this collector stored it, or is waiting for it, and its neighbours.
          return ![b.seq - 1, b.seq, b.seq + 1].every((q) => q < 1 || remembers(gw, q));
        });
    const archived = lookups.length > 0 ? await archivedLinks(lookups, store) : undefined;
    const plan: IntegrityPlan = {
      rows: [],
      findings: [],
      archive: [],
      stored: [],
      duplicates: 0,
      verificationFailures: 0,
      heads: new Map(),
      waiting: new Map(),
      released: new Map(),
      review: new Set(),
      rejected: [],
      confirmed: [],
    };
    /** Versions planned in this flush, by `unit/gateway#seq`. */
    const planned = new Map<string, ArchivedBatch>();
    /**
     * The stored (or planned) version of a seq: from the prefetched links when the seq is in their
     * ranges (shared mode: always), else read from the store.
     */
    const known = async (unitId: string, gatewayId: string, seq: number): Promise<Known | undefined> => {
      const key = `${unitId}/${gatewayId}#${seq}`;
      const p = planned.get(key);
      if (p !== undefined) return p;
      if (!shared && remembers(`${unitId}/${gatewayId}`, seq)) return recentOf(key);
      if (shared) {
        const inFlight = layer.records.get(key);
        if (inFlight !== undefined) return inFlight;
      }
      if (archived && (shared || archived.covers(`${unitId}/${gatewayId}`, seq))) return archived.get(key);
      return (await store.listBatches({ unitId, gatewayId, fromSeq: seq, toSeq: seq }))[0];
    };
    /**
     * True when `prevHash` of batch `seq` is the hash of the batch before a range ending at `seq - 1`
     * that the gateway declared lost (in `lost` or earlier): its own disk lost that batch's hash, so it
     * went on from the one before (wire.ts `lost`). Not a broken chain.
     */
    const declaredLink = async (b: Pick<Batch, 'unitId' | 'gatewayId' | 'seq' | 'prevHash' | 'lost'>) => {
      const gw = `${b.unitId}/${b.gatewayId}`;
      const ranges = [...(b.lost ?? []), ...(this.#declared.get(gw) ?? [])];
      for (const r of ranges) {
        if (r.to !== b.seq - 1) continue;
        const anchor = r.from === 1 ? GENESIS_HASH : (await known(b.unitId, b.gatewayId, r.from - 1))?.hash;
        if (anchor === b.prevHash) return true;
      }
      return false;
    };
    /** Sole mode: the holes each gateway's batches are still waited for, copied on first use (see commit). */
    const waitingOf = async (batch: Batch): Promise<Waiting> => {
      const gw = `${batch.unitId}/${batch.gatewayId}`;
      let w = plan.waiting.get(gw);
      if (w === undefined) {
        const committedWaiting = waitingNow(gw);
        w =
          committedWaiting?.copy() ??
          (await holesInArchive(store, batch.unitId, batch.gatewayId, committed.get(gw)?.seq ?? 0));
        plan.waiting.set(gw, w);
      }
      return w;
    };
    /** Sole mode: holes the gateway no longer holds, not yet reported (copied on first use). */
    const releasedOf = (batch: Batch): Waiting => {
      const gw = `${batch.unitId}/${batch.gatewayId}`;
      let r = plan.released.get(gw);
      if (r === undefined) {
        r = releasedNow(gw)?.copy() ?? new Waiting();
        plan.released.set(gw, r);
      }
      return r;
    };
    /** Sole mode: gateways whose archived links above the head were read in this plan (see below). */
    const aboveRead = new Set<string>();
    const replayWindow = this.opts.replayWindowMs ?? 10 * 60_000;
    const maxSkew = this.opts.maxClockSkewMs ?? 5 * 60_000;

    for (const item of items) {
      const { batch, receivedAt } = item;
      const gw = `${batch.unitId}/${batch.gatewayId}`;
      // A restarted collector re-checks what the previous run may have left open (its review may have failed).
      if (!shared && !this.#seen.has(gw) && !layer.seen.has(gw)) {
        plan.review.add(gw);
        // Quarantined batches archived above the head by the previous run (batchHeads skips them): into
        // the recent links, so that a verified batch with one of their seqs supersedes them. Once per start.
        if (!aboveRead.has(gw)) {
          aboveRead.add(gw);
          const from = (committed.get(gw)?.seq ?? 0) + 1;
          for (const l of await store.listBatchLinks({
            unitId: batch.unitId,
            gatewayId: batch.gatewayId,
            fromSeq: from,
            limit: 1000,
          }))
            if (!this.#recent.has(`${gw}#${l.seq}`)) this.#recent.set(`${gw}#${l.seq}`, l);
        }
      }
      // The canonical text once, its UTF-8 bytes once: hash, signature and archive all use them.
      const { sig: _sig, ...unsigned } = batch;
      const canonical = canonicalJson(unsigned);
      const bytes = Buffer.from(canonical, 'utf8');
      const hash = sha256Hex(bytes);
      const ts = batch.readings[0]?.ts ?? batch.sentAt;
      const where = (key: string) => ({ unitId: batch.unitId, gatewayId: batch.gatewayId, key, ts, at: now });
      const findings: Finding[] = [];
      const raise = (code: IntegrityFindingCode, key: string, detail: Record<string, unknown>) =>
        findings.push(integrityFinding(code, where(key), detail));

      // Signature: the key of the claimed (unit, gateway) valid at the batch's sentAt (collector/keys.ts).
      let sigOk: boolean | undefined;
      if (this.opts.keys) {
        const sentAt = parseIsoMs(batch.sentAt);
        const who = this.opts.keys.identify(batch.unitId, batch.gatewayId, bytes, batch.sig, sentAt);
        if (who.kind === 'mismatch') {
          // Signed by another unit's or gateway's key: a forgery. Dead-lettered whole, nothing stored but the finding.
          const f = integrityFinding('MRV_F_KEY_MISMATCH', where(`${batch.seq}-${hash.slice(0, 16)}`), {
            seq: batch.seq,
            hash,
            keyId: who.entry.keyId,
            keyUnitId: who.entry.unitId,
            keyGatewayId: who.entry.gatewayId,
            canonical,
            sig: batch.sig ?? null,
            receivedAt: isoMs(receivedAt),
          });
          plan.findings.push(f);
          plan.rejected.push({ item, finding: f });
          plan.verificationFailures++;
          continue;
        }
        sigOk = who.kind === 'valid';
        if (who.kind === 'unknown') raise('MRV_F_UNKNOWN_KEY', String(batch.seq), { seq: batch.seq });
        else if (who.kind === 'bad')
          raise('MRV_F_BAD_SIGNATURE', String(batch.seq), { seq: batch.seq, sig: batch.sig ?? null, hash });
        else if (who.kind === 'revoked' || who.kind === 'expired')
          raise('MRV_F_KEY_REVOKED', String(batch.seq), {
            seq: batch.seq,
            hash,
            reason: who.kind,
            keyId: who.entry.keyId,
            sentAt: batch.sentAt,
            ...(who.kind === 'revoked'
              ? { revokedAt: isoMs(who.entry.revokedAt) }
              : {
                  validFrom: Number.isFinite(who.entry.validFrom) ? isoMs(who.entry.validFrom) : null,
                  validUntil: Number.isFinite(who.entry.validUntil) ? isoMs(who.entry.validUntil) : null,
                }),
          });
      }

      /** The signature failed (bad, missing, or no key): the batch is quarantined (file comment). */
      const untrusted = sigOk === false;
      const head = plan.heads.get(gw) ?? committed.get(gw);
      const record: ArchivedBatch = {
        unitId: batch.unitId,
        gatewayId: batch.gatewayId,
        seq: batch.seq,
        hash,
        prevHash: batch.prevHash,
        canonical,
        sig: batch.sig ?? null,
        receivedAt,
        verdict: 'unchecked',
        findings: [],
      };
      let writeReadings = true;
      let writeArchive = true;
      // Shared mode: any seq may already be archived (by this collector or another one).
      const mayBeStored = shared
        ? planned.has(`${gw}#${batch.seq}`) ||
          layer.records.has(`${gw}#${batch.seq}`) ||
          archived?.get(`${gw}#${batch.seq}`) !== undefined
        : head !== undefined && batch.seq <= head.seq;
      if (mayBeStored) {
        let stored = await known(batch.unitId, batch.gatewayId, batch.seq);
        // Same bytes, but this copy's signature verifies where the stored copy's did not (someone
        // published the batch first with a bad sig): the verified copy replaces it.
        const upgrade = stored?.hash === hash && sigOk === true && stored.verdict === 'failed';
        if (stored?.hash === hash && !upgrade) {
          plan.duplicates++;
          if (stored.verdict !== 'failed') plan.confirmed.push(item);
          if (receivedAt - stored.receivedAt > replayWindow)
            plan.findings.push(
              integrityFinding('MRV_F_REPLAY', where(`${batch.seq}@${receivedAt}`), {
                seq: batch.seq,
                hash,
                firstReceivedAt: isoMs(stored.receivedAt),
              }),
            );
          continue;
        }
        if (upgrade) {
          // falls through to the writes below with no new finding
        } else if (stored !== undefined) {
          const supersedes = sigOk === true && stored.verdict !== 'verified';
          // A link read without its bytes: the finding keeps the other version whole, so read them.
          if (supersedes && stored.canonical === undefined)
            stored =
              (
                await store.listBatches({
                  unitId: batch.unitId,
                  gatewayId: batch.gatewayId,
                  fromSeq: batch.seq,
                  toSeq: batch.seq,
                })
              )[0] ?? stored;
          raise('MRV_F_SEQ_CONFLICT', `${batch.seq}/${hash.slice(0, 16)}`, {
            seq: batch.seq,
            storedHash: stored.hash,
            receivedHash: hash,
            kept: supersedes ? 'received' : 'stored',
            // The version not kept, whole, so nothing is lost: canonical bytes and signature.
            other: supersedes
              ? {
                  canonical: stored.canonical ?? null,
                  sig: stored.sig ?? null,
                  receivedAt: isoMs(stored.receivedAt),
                }
              : { canonical, sig: batch.sig ?? null, receivedAt: isoMs(receivedAt) },
          });
          if (!supersedes) {
            writeReadings = false;
            writeArchive = false;
            if (stored.verdict !== 'failed') plan.confirmed.push(item); // that seq is held, trusted
          } else if (!shared && !clean(gw)) plan.review.add(gw); // a link to the replaced version may verify now
        } else {
          // A late batch filling an earlier gap (or sent behind newer ones by a gateway replaying a
          // backlog): check it against its stored predecessor, and its stored successor against it.
          const before = untrusted ? undefined : await known(batch.unitId, batch.gatewayId, batch.seq - 1);
          const expected =
            untrusted || (before !== undefined && quarantinedLink(before))
              ? undefined
              : batch.seq === 1
                ? GENESIS_HASH
                : before?.hash;
          if (expected !== undefined && batch.prevHash !== expected && !(await declaredLink(batch)))
            raise('MRV_F_CHAIN_BROKEN', String(batch.seq), {
              seq: batch.seq,
              prevHash: batch.prevHash,
              expected,
            });
          const after =
            shared || untrusted ? undefined : await known(batch.unitId, batch.gatewayId, batch.seq + 1);
          const afterLink = after && {
            ...batch,
            seq: batch.seq + 1,
            prevHash: after.prevHash,
            lost: undefined,
          };
          if (
            after !== undefined &&
            !quarantinedLink(after) &&
            after.prevHash !== hash &&
            !(afterLink && (await declaredLink(afterLink)))
          )
            raise('MRV_F_CHAIN_BROKEN', String(batch.seq + 1), {
              seq: batch.seq + 1,
              prevHash: after.prevHash,
              expected: hash,
            });
          if (!shared && !untrusted) {
            (await waitingOf(batch)).remove(batch.seq);
            releasedOf(batch).remove(batch.seq);
            if (!clean(gw)) plan.review.add(gw); // it may close a gap already reported
          }
        }
      } else if (shared && !untrusted) {
        // New here; its predecessor may be archived, in this flush, or still with another collector
        // (then the chain audit checks the link once both are stored).
        const before = await known(batch.unitId, batch.gatewayId, batch.seq - 1);
        const expected = batch.seq === 1 ? GENESIS_HASH : before?.hash;
        if (expected !== undefined && batch.prevHash !== expected && !(await declaredLink(batch)))
          raise('MRV_F_CHAIN_BROKEN', String(batch.seq), {
            seq: batch.seq,
            prevHash: batch.prevHash,
            expected,
          });
      } else if (untrusted) {
        // Quarantined above the head: no hole, no head, no link (file comment). A second version of a
        // seq already quarantined here is a conflict kept in its finding.
        const other = planned.get(`${gw}#${batch.seq}`) ?? recentOf(`${gw}#${batch.seq}`);
        if (other !== undefined && other.hash !== hash) {
          raise('MRV_F_SEQ_CONFLICT', `${batch.seq}/${hash.slice(0, 16)}`, {
            seq: batch.seq,
            storedHash: other.hash,
            receivedHash: hash,
            kept: 'stored',
            other: { canonical, sig: batch.sig ?? null, receivedAt: isoMs(receivedAt) },
          });
          writeReadings = false;
          writeArchive = false;
        }
      } else {
        // A verified batch with the seq of a quarantined one above the head: it supersedes that one.
        const forged: Known | undefined = planned.get(`${gw}#${batch.seq}`) ?? recentOf(`${gw}#${batch.seq}`);
        if (forged !== undefined && forged.hash !== hash && sigOk === true && forged.verdict !== 'verified') {
          const bytes =
            forged.canonical === undefined
              ? (
                  await store.listBatches({
                    unitId: batch.unitId,
                    gatewayId: batch.gatewayId,
                    fromSeq: batch.seq,
                    toSeq: batch.seq,
                  })
                )[0]
              : forged;
          raise('MRV_F_SEQ_CONFLICT', `${batch.seq}/${hash.slice(0, 16)}`, {
            seq: batch.seq,
            storedHash: forged.hash,
            receivedHash: hash,
            kept: 'received',
            other: {
              canonical: bytes?.canonical ?? null,
              sig: bytes?.sig ?? null,
              receivedAt: isoMs(forged.receivedAt),
            },
          });
        }
        const from = head === undefined ? 1 : head.seq + 1;
        if (batch.seq > from) {
          // Below backlogFrom: taken by the broker before this batch was sent, so delivered before it:
          // lost. From backlogFrom on: still in the gateway's log, sent behind this batch; waited for.
          // Either way nothing is reported here: a batch the broker took may still be queued on the
          // backlog topic, whose session has no order with this one (dueGaps reports what stays missing).
          const cut = Math.min(batch.backlogFrom ?? batch.seq, batch.seq);
          const lostTo = Math.min(batch.seq - 1, cut - 1);
          if (lostTo >= from) releasedOf(batch).add(from, lostTo);
          if (Math.max(from, cut) <= batch.seq - 1)
            (await waitingOf(batch)).add(Math.max(from, cut), batch.seq - 1);
        }
        const expected = batch.seq === 1 ? GENESIS_HASH : batch.seq === from ? head?.hash : undefined;
        if (expected !== undefined && batch.prevHash !== expected && !(await declaredLink(batch)))
          raise('MRV_F_CHAIN_BROKEN', String(batch.seq), {
            seq: batch.seq,
            prevHash: batch.prevHash,
            expected,
          });
        plan.heads.set(gw, { seq: batch.seq, hash });
      }

      // Holes this gateway's batches were waited for whose seqs the gateway no longer holds: taken by
      // the broker, so lost unless still queued on the backlog topic (another session: no order with
      // this one). Reported by dueGaps() once that session has been quiet (see the collector).
      if (!shared && !untrusted) {
        const w = await waitingOf(batch);
        const released = w.takeBelow(Math.min(batch.backlogFrom ?? batch.seq, batch.seq));
        if (released.length > 0) {
          const r = releasedOf(batch);
          for (const [lo, hi] of released) r.add(lo, hi);
        }
        // Declared lost by the gateway (wire.ts `lost`): not waited for any more; reported with the cause.
        for (const l of batch.lost ?? []) {
          const to = Math.min(l.to, batch.seq - 1);
          if (l.from > to) continue;
          this.#declare(gw, { from: l.from, to, cause: l.cause, declaredIn: batch.seq });
          const r = releasedOf(batch);
          for (const [lo, hi] of w.take(l.from, to)) r.add(lo, hi);
        }
      }

      // Clocks: a gateway ahead of the collector; devices far from the gateway.
      const sentAt = Date.parse(batch.sentAt);
      if (sentAt - now > maxSkew)
        raise('MRV_F_CLOCK_SKEW', `${batch.seq}/gateway`, {
          seq: batch.seq,
          what: 'gateway ahead of collector',
          sentAt: batch.sentAt,
          collectorAt: isoMs(now),
          maxSkewS: maxSkew / 1000,
        });
      // Each reading's two times parsed once, for this check and for the rows.
      const n = batch.readings.length;
      const times = new Float64Array(2 * n);
      const skewed: Reading[] = [];
      // Readings of one poll cycle mostly share their time strings: parse each distinct one once.
      let lastTs = '';
      let lastTsMs = 0;
      let lastRx = '';
      let lastRxMs = 0;
      for (let i = 0; i < n; i++) {
        const r = batch.readings[i] as Reading;
        if (r.ts !== lastTs) {
          lastTs = r.ts;
          lastTsMs = parseIsoMs(r.ts);
        }
        if (r.rxTs !== lastRx) {
          lastRx = r.rxTs;
          lastRxMs = parseIsoMs(r.rxTs);
        }
        const t = lastTsMs;
        const rx = lastRxMs;
        times[2 * i] = t;
        times[2 * i + 1] = rx;
        // The device's clock is its serving time where the reading has one (OPC UA ServerTimestamp, the
        // read time of a ticket from a terminal's memory, whose `ts` is the weighing time, possibly hours
        // before an outage ended: drivers/modbus/event-log-config.ts), else the source time.
        const device = r.serverTs === undefined ? t : parseIsoMs(r.serverTs);
        if (Math.abs(device - rx) > maxSkew) skewed.push(r);
      }
      if (skewed.length > 0)
        raise('MRV_F_CLOCK_SKEW', `${batch.seq}/device`, {
          seq: batch.seq,
          what: 'device clock far from gateway clock',
          points: skewed.slice(0, 20).map((r) => ({ point: r.point, ts: r.ts, rxTs: r.rxTs })),
          maxSkewS: maxSkew / 1000,
        });

      if (findings.some((f) => f.class === 'authenticity')) plan.verificationFailures++;
      // A conflict this (verified) copy won is about the other copy, not about this one.
      const failed = findings.some(
        (f) =>
          f.class === 'authenticity' && !(f.code === 'MRV_F_SEQ_CONFLICT' && f.detail.kept === 'received'),
      );
      // A configuration change the gateway declared (a hot reload): on record, once per batch, when
      // the batch itself is not a forgery.
      if (batch.config && !failed)
        raise('MRV_F_CONFIG_CHANGED', `${batch.seq}/config`, { seq: batch.seq, ...batch.config });
      record.verdict = failed ? 'failed' : sigOk === true ? 'verified' : 'unchecked';
      record.findings = findings.map((f) => f.code);
      plan.findings.push(...findings);
      if (writeArchive) {
        plan.archive.push(record);
        planned.set(`${gw}#${batch.seq}`, record);
      }
      if (!writeReadings) continue;
      // Quarantined: a signature that failed, or a key revoked (or not valid) at the batch's time.
      const cause = findings.find(
        (f) =>
          (untrusted && (f.code === 'MRV_F_BAD_SIGNATURE' || f.code === 'MRV_F_UNKNOWN_KEY')) ||
          f.code === 'MRV_F_KEY_REVOKED',
      )?.code;
      for (let i = 0; i < n; i++) {
        const r = batch.readings[i] as Reading;
        // Quarantined: `uncertain` and the cause in the reason too, so that even a copy read out of
        // the quarantine never looks verified (as rows of schema 3 stores, before the quarantine).
        const reason = cause
          ? `${cause}: batch ${batch.seq} not verified${r.reason ? `; ${r.reason}` : ''}`
          : r.reason;
        // One object literal (same keys as before; meter and reason only when present).
        const row: StoredReading = {
          unitId: batch.unitId,
          gatewayId: batch.gatewayId,
          device: batch.device ?? item.devices?.get(r.point) ?? 'unknown',
          point: r.point,
          ts: times[2 * i] as number,
          rxTs: times[2 * i + 1] as number,
          value: r.value,
          quality: cause !== undefined && r.quality === 'good' ? 'uncertain' : r.quality,
          seq: batch.seq,
        };
        if (r.meter) row.meter = r.meter;
        if (reason) row.reason = reason.slice(0, 500);
        if (cause !== undefined) row.quarantine = cause;
        plan.rows.push(row);
      }
      if (cause === undefined) {
        plan.stored.push(item);
        plan.confirmed.push(item);
      }
    }
    return plan;
  }

  /**
   * Sole mode: `MRV_F_SEQ_GAP` for every hole a gateway no longer holds (its batches' `backlogFrom` went
   * past it) and that is still missing. Call only when nothing can still deliver those batches: no plan
   * in progress, and the backlog session connected and quiet with nothing pending (collector.ts). Each
   * finding is dated by the first reading of the batch after the hole, like an in-order gap, and not
   * raised again when stored already (holes found again after a restart).
   * @throws MrvError `MRV_E_STORE`
   */
  async dueGaps(store: TimeSeriesStore, now: number): Promise<Finding[]> {
    const out: Finding[] = [];
    const done: string[] = [];
    for (const [gw, r] of this.#released) {
      const ranges = r.list();
      if (ranges.length === 0) continue;
      done.push(gw);
      const [unitId, gatewayId] = gw.split('/') as [string, string];
      for (const [lo, hi, cause] of splitByCause(ranges, this.#declared.get(gw) ?? [])) {
        const next = (await store.listBatches({ unitId, gatewayId, fromSeq: hi + 1, toSeq: hi + 1 }))[0];
        const ts = (next && firstReadingTs(next.canonical)) ?? isoMs(now);
        const f = integrityFinding(
          'MRV_F_SEQ_GAP',
          { unitId, gatewayId, key: `${lo}-${hi}`, ts, at: now },
          {
            from: lo,
            to: hi,
            missing: hi - lo + 1,
            before: lo - 1,
            after: hi + 1,
            ...(cause ? { cause: cause.cause, declaredBy: 'gateway', declaredIn: cause.declaredIn } : {}),
          },
        );
        if (!(await gapOnRecord(store, f))) out.push(f);
      }
    }
    // Only once every finding is built (a store error leaves the holes to the next call).
    for (const gw of done) this.#released.delete(gw);
    this.#unclean(out);
    return out;
  }

  /** Notes a range a gateway declared lost (kept once, the newest {@link MAX_DECLARED} per gateway). */
  #declare(gw: string, range: LostRange & { declaredIn: number }): void {
    const list = this.#declared.get(gw) ?? [];
    this.#declared.set(gw, list);
    if (list.some((r) => r.from <= range.from && range.to <= r.to && r.cause === range.cause)) return;
    list.push(range);
    if (list.length > MAX_DECLARED) list.shift();
  }

  /** True when holes wait to be reported by {@link dueGaps}. */
  get gapsDue(): boolean {
    for (const r of this.#released.values()) if (r.list().length > 0) return true;
    return false;
  }

  /**
   * Sole mode: the gateways (`unit/gateway`) whose open `MRV_F_SEQ_GAP` and `MRV_F_CHAIN_BROKEN` findings
   * committed batches may have resolved; the collector reviews them (finding-lifecycle.ts
   * `reviewGateway`) and calls {@link reviewed} once the result is stored.
   */
  get reviewsDue(): string[] {
    return [...this.#toReview];
  }

  /**
   * A gateway's review (see {@link reviewsDue}) is stored, leaving `open` gap and broken-link findings
   * open; until a batch asks for another, none is due.
   */
  reviewed(gw: string, open: number): void {
    this.#toReview.delete(gw);
    if (open === 0) this.#clean.add(gw);
    else this.#clean.delete(gw);
  }

  /** A gap or broken-link finding was raised for `gw` (`unit/gateway`): its late batches are reviewed again. */
  #unclean(findings: readonly Finding[]): void {
    for (const f of findings)
      if ((f.code === 'MRV_F_SEQ_GAP' || f.code === 'MRV_F_CHAIN_BROKEN') && f.gatewayId !== undefined)
        this.#clean.delete(`${f.unitId}/${f.gatewayId}`);
  }

  /** Applies a plan's new chain heads once its writes succeeded. */
  commit(plan: IntegrityPlan): void {
    this.#unclean(plan.findings);
    for (const gw of plan.review) {
      this.#toReview.add(gw);
      this.#seen.add(gw);
    }
    for (const [k, w] of plan.waiting) this.#waiting.set(k, w);
    for (const [k, r] of plan.released) this.#released.set(k, r);
    if (this.opts.shared !== true)
      for (const b of plan.archive) {
        const key = `${b.unitId}/${b.gatewayId}#${b.seq}`;
        this.#recent.delete(key);
        this.#recent.set(key, {
          seq: b.seq,
          hash: b.hash,
          prevHash: b.prevHash,
          receivedAt: b.receivedAt,
          verdict: b.verdict,
          findings: b.findings,
        });
        if (this.#recent.size > RECENT_LINKS) this.#recent.delete(this.#recent.keys().next().value as string);
      }
    if (this.#heads === undefined) return;
    for (const [k, h] of plan.heads) {
      const cur = this.#heads.get(k);
      if (cur === undefined || h.seq > cur.seq) this.#heads.set(k, h);
    }
  }
}

/** The state the plans in flight leave behind, as {@link IntegrityChecker.plan} sees it (see there). */
interface Layer {
  /** Committed heads advanced by the plans in flight (a copy; the committed map itself when none). */
  heads: Map<string, { seq: number; hash: string }>;
  /** The newest holes per gateway of the plans in flight (the latest plan touching a gateway wins). */
  waiting: Map<string, Waiting>;
  released: Map<string, Waiting>;
  /** Archive records planned in flight, by `unit/gateway#seq` (a later plan's wins). */
  records: Map<string, ArchivedBatch>;
  /** Gateways a plan in flight reviews (they count as seen). */
  seen: Set<string>;
  /** Gateways a plan in flight raised a gap or broken link for (not clean any more once committed). */
  unclean: Set<string>;
}

/** The {@link Layer} of `inflight` (oldest first) over the committed heads. */
function layerOf(
  committed: Map<string, { seq: number; hash: string }>,
  inflight: readonly IntegrityPlan[],
): Layer {
  const layer: Layer = {
    heads: inflight.length === 0 ? committed : new Map(committed),
    waiting: new Map(),
    released: new Map(),
    records: new Map(),
    seen: new Set(),
    unclean: new Set(),
  };
  for (const p of inflight) {
    for (const [k, h] of p.heads) {
      const cur = layer.heads.get(k);
      if (cur === undefined || h.seq > cur.seq) layer.heads.set(k, h);
    }
    for (const [k, w] of p.waiting) layer.waiting.set(k, w);
    for (const [k, r] of p.released) layer.released.set(k, r);
    for (const b of p.archive) layer.records.set(`${b.unitId}/${b.gatewayId}#${b.seq}`, b);
    for (const gw of p.review) layer.seen.add(gw);
    for (const f of p.findings)
      if ((f.code === 'MRV_F_SEQ_GAP' || f.code === 'MRV_F_CHAIN_BROKEN') && f.gatewayId !== undefined)
        layer.unclean.add(`${f.unitId}/${f.gatewayId}`);
  }
  return layer;
}

/** Archived links read ahead for a flush, with the seq range read per gateway. */
interface Prefetched {
  get(key: string): BatchLink | undefined;
  /** True when `seq` of gateway `gw` (`unit/gateway`) was in the range read. */
  covers(gw: string, seq: number): boolean;
}

/**
 * The archived links of every gateway's seq range in `items` (lowest seq − 1 to highest + 1), by
 * `unit/gateway#seq`; one store query per gateway.
 * @throws MrvError `MRV_E_STORE` when the store cannot be read
 */
async function archivedLinks(items: readonly ReceivedBatch[], store: TimeSeriesStore): Promise<Prefetched> {
  const ranges = new Map<string, { unitId: string; gatewayId: string; from: number; to: number }>();
  for (const { batch } of items) {
    const gw = `${batch.unitId}/${batch.gatewayId}`;
    const r = ranges.get(gw);
    if (r === undefined)
      ranges.set(gw, { unitId: batch.unitId, gatewayId: batch.gatewayId, from: batch.seq, to: batch.seq });
    else {
      r.from = Math.min(r.from, batch.seq);
      r.to = Math.max(r.to, batch.seq);
    }
  }
  const links = new Map<string, BatchLink>();
  await Promise.all(
    [...ranges].map(async ([gw, r]) => {
      r.from = Math.max(0, r.from - 1);
      r.to += 1;
      const rows = await store.listBatchLinks({
        unitId: r.unitId,
        gatewayId: r.gatewayId,
        fromSeq: r.from,
        toSeq: r.to,
        limit: r.to - r.from + 1,
      });
      for (const l of rows) links.set(`${gw}#${l.seq}`, l);
    }),
  );
  return {
    get: (key) => links.get(key),
    covers: (gw, seq) => {
      const r = ranges.get(gw);
      return r !== undefined && seq >= r.from && seq <= r.to;
    },
  };
}

/**
 * Seq ranges of one gateway that a collector waits for (sorted, disjoint, inclusive). Small in practice:
 * one range per backlog being replayed.
 */
export class Waiting {
  constructor(private ranges: Array<[number, number]> = []) {}

  /** A copy (plans work on copies; commit keeps them). */
  copy(): Waiting {
    return new Waiting(this.ranges.map(([a, b]) => [a, b]));
  }

  /** The ranges, lowest first. */
  list(): ReadonlyArray<readonly [number, number]> {
    return this.ranges;
  }

  /** Adds `from..to`, merging with the ranges it touches. */
  add(from: number, to: number): void {
    const last = this.ranges.at(-1);
    if (last === undefined || from > last[1] + 1) {
      this.ranges.push([from, to]); // the usual case: holes appear above everything held
      return;
    }
    const merged: Array<[number, number]> = [];
    let lo = from;
    let hi = to;
    let placed = false;
    for (const [a, b] of this.ranges) {
      if (b + 1 < lo) merged.push([a, b]);
      else if (hi + 1 < a) {
        if (!placed) merged.push([lo, hi]);
        placed = true;
        merged.push([a, b]);
      } else {
        lo = Math.min(lo, a);
        hi = Math.max(hi, b);
      }
    }
    if (!placed) merged.push([lo, hi]);
    this.ranges = merged;
  }

  /** True when `seq` is waited for. */
  has(seq: number): boolean {
    return this.ranges.some(([a, b]) => a <= seq && seq <= b);
  }

  /** Takes `seq` out (it arrived). */
  remove(seq: number): void {
    const i = this.ranges.findIndex(([a, b]) => a <= seq && seq <= b);
    if (i < 0) return;
    const [a, b] = this.ranges[i] as [number, number];
    const parts: Array<[number, number]> = [];
    if (a < seq) parts.push([a, seq - 1]);
    if (seq < b) parts.push([seq + 1, b]);
    this.ranges.splice(i, 1, ...parts);
  }

  /** Removes and returns every part within `from..to`. */
  take(from: number, to: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const kept: Array<[number, number]> = [];
    for (const [a, b] of this.ranges) {
      if (b < from || a > to) {
        kept.push([a, b]);
        continue;
      }
      if (a < from) kept.push([a, from - 1]);
      out.push([Math.max(a, from), Math.min(b, to)]);
      if (b > to) kept.push([to + 1, b]);
    }
    this.ranges = kept;
    return out;
  }

  /** Removes and returns every part below `cut`. */
  takeBelow(cut: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    while (this.ranges.length > 0 && (this.ranges[0] as [number, number])[0] < cut) {
      const [a, b] = this.ranges[0] as [number, number];
      if (b < cut) {
        out.push([a, b]);
        this.ranges.shift();
      } else {
        out.push([a, cut - 1]);
        (this.ranges[0] as [number, number])[0] = cut;
      }
    }
    return out;
  }
}

/** Declared lost ranges remembered per gateway ({@link IntegrityChecker} `#declared`). */
const MAX_DECLARED = 1000;

/**
 * Splits holes by the ranges a gateway declared lost: `[lo, hi, declared range or undefined]`, the
 * declared parts carrying the cause.
 */
function splitByCause(
  holes: ReadonlyArray<readonly [number, number]>,
  declared: readonly (LostRange & { declaredIn: number })[],
): Array<[number, number, (LostRange & { declaredIn: number }) | undefined]> {
  const out: Array<[number, number, (LostRange & { declaredIn: number }) | undefined]> = [];
  for (const [lo, hi] of holes) {
    let s = lo;
    while (s <= hi) {
      const d = declared.find((r) => r.from <= s && s <= r.to);
      if (d !== undefined) {
        const e = Math.min(hi, d.to);
        out.push([s, e, d]);
        s = e + 1;
        continue;
      }
      // Up to the next declared range, or the end of the hole.
      const next = Math.min(hi + 1, ...declared.filter((r) => r.from > s).map((r) => r.from));
      out.push([s, next - 1, undefined]);
      s = next;
    }
  }
  return out;
}

/** Links of recently stored batches kept in memory by a sole collector (~150 bytes each). */
const RECENT_LINKS = 100_000;

/** How far below the head a restarted collector looks for holes it may still be waiting for. */
const HOLE_LOOKBACK = 10_000;

/**
 * Sole mode, first batch of a gateway since the collector started: the holes in its archived chain in
 * the last {@link HOLE_LOOKBACK} seqs below `head`, so that a hole the previous run was waiting for is
 * still resolved (reported once its seqs fall below a batch's `backlogFrom`).
 * @throws MrvError `MRV_E_STORE`
 */
async function holesInArchive(
  store: TimeSeriesStore,
  unitId: string,
  gatewayId: string,
  head: number,
): Promise<Waiting> {
  const w = new Waiting();
  if (head <= 1) return w;
  const from = Math.max(1, head - HOLE_LOOKBACK);
  const links = await store.listBatchLinks({
    unitId,
    gatewayId,
    fromSeq: from,
    toSeq: head,
    limit: head - from + 1,
  });
  let prev = from === 1 ? 0 : (links[0]?.seq ?? head);
  for (const l of links) {
    if (l.seq > prev + 1) w.add(prev + 1, l.seq - 1);
    prev = l.seq;
  }
  return w;
}

/**
 * True when a finding with this id is stored already (listFindings at its own `ts`).
 * @throws MrvError `MRV_E_STORE`
 */
export async function findingStored(store: TimeSeriesStore, f: Finding): Promise<boolean> {
  const t = Date.parse(f.ts);
  const same = await store.listFindings(f.unitId, t, t + 1, {
    source: f.source,
    code: f.code,
    ...(f.gatewayId ? { gatewayId: f.gatewayId } : {}),
  });
  return same.some((s) => s.id === f.id);
}

/**
 * True when a gap finding about to be raised is already on record: stored under its id (in any
 * lifecycle state), or inside the range of an open gap finding of its gateway (a hole left by a partly
 * filled gap, found again after a restart, is that finding's `detail.remaining`, not a new finding).
 * @throws MrvError `MRV_E_STORE`
 */
export async function gapOnRecord(store: TimeSeriesStore, f: Finding): Promise<boolean> {
  if (await findingStored(store, f)) return true;
  const from = Number(f.detail.from);
  const to = Number(f.detail.to);
  const open = await store.listOpenFindings(f.unitId, f.code, {
    source: f.source,
    ...(f.gatewayId ? { gatewayId: f.gatewayId } : {}),
  });
  return open.some((o) => Number(o.detail.from) <= from && to <= Number(o.detail.to));
}

/** The `ts` of the first reading (else `sentAt`) of a batch's canonical JSON; undefined when unreadable. */
export function firstReadingTs(canonical: string): string | undefined {
  try {
    const b = JSON.parse(canonical) as { readings?: { ts?: unknown }[]; sentAt?: unknown };
    const ts = b.readings?.[0]?.ts ?? b.sentAt;
    return typeof ts === 'string' ? ts : undefined;
  } catch {
    return undefined;
  }
}
