/**
 * The lifecycle of the collector's delivery findings (core/schema/finding.ts "Lifecycle"): a
 * `MRV_F_SEQ_GAP` raised while its batches were still on their way (a collector reconnecting after a
 * keepalive timeout, a backlog being drained, a gateway re-sending what the store did not acknowledge)
 * must not stay open once they are stored, or the month's evidence would cite a hole that is not there.
 *
 * {@link reviewGateway} re-reads one gateway's open `MRV_F_SEQ_GAP` and `MRV_F_CHAIN_BROKEN` findings
 * against the batch archive, the only shared truth of sole and shared collectors:
 * - a gap all of whose seqs are archived now is **resolved** (`by: late-batches`, `seqs` = the ranges
 *   that arrived after it was raised, `detail.lastReceivedAt`); the links from the batch before the hole
 *   to the batch after it are checked on the way, and a link that does not verify is raised as
 *   `MRV_F_CHAIN_BROKEN` (and its archive record marked `failed`, as the chain audit does) unless the
 *   record already carries that code: the gap is closed, the break is its own finding;
 * - a gap of which only some seqs arrived stays **open**, rewritten with `detail.remaining` (seq ranges
 *   still missing), `detail.stillMissing` (their count), `detail.arrived` and a message that says what
 *   is still missing;
 * - a broken link whose two batches are archived and verify now (the stored predecessor was replaced by
 *   the verified version a conflict kept, or a hole's batch arrived) is **resolved** (`by: link-verified`,
 *   `seqs` = the two batches).
 * Findings keep their id and `ts`: rewriting one replaces it in the store. The review is idempotent (the
 * same archive gives the same answer and nothing to write), so collectors call it freely: a sole
 * collector after a write that stored late batches (collector.ts), every chain audit round in shared mode
 * (chain-audit.ts).
 */
import type { Finding, SeqRange } from '../core/schema/finding.ts';
import { GENESIS_HASH } from '../core/schema/wire.ts';
import { isoMs } from '../core/time.ts';
import { findingStored, firstReadingTs, integrityFinding } from './integrity.ts';
import type { BatchLink, TimeSeriesStore } from './store.ts';
import { quarantinedLink } from './store-checks.ts';

/** What one review of a gateway found. */
export interface GatewayReview {
  /** Findings to write (resolved or updated ones, and new broken links); not yet stored. */
  findings: Finding[];
  /** Archive records the review marked `failed` (already written back). */
  marked: number;
  /** Gap and broken-link findings of the gateway still open once `findings` are written. */
  open: number;
}

/** The open findings a review works on (see {@link openOfUnit}). */
export interface OpenFindings {
  gaps: Finding[];
  broken: Finding[];
}

/**
 * The open `MRV_F_SEQ_GAP` and `MRV_F_CHAIN_BROKEN` integrity findings of a unit (all its gateways): two
 * store queries, so that a round over many gateways of one unit reads them once.
 * @throws MrvError `MRV_E_STORE`
 */
export async function openOfUnit(store: TimeSeriesStore, unitId: string): Promise<OpenFindings> {
  const [gaps, broken] = await Promise.all([
    store.listOpenFindings(unitId, 'MRV_F_SEQ_GAP', { source: 'integrity' }),
    store.listOpenFindings(unitId, 'MRV_F_CHAIN_BROKEN', { source: 'integrity' }),
  ]);
  return { gaps, broken };
}

/** Links read per store query while reviewing a long gap. */
const PAGE = 10_000;

/**
 * Reviews the open gap and broken-link findings of one gateway against the archive (see the file
 * comment), at collector time `now` (ms epoch). `unitOpen`: the unit's open findings when already read
 * ({@link openOfUnit}); else they are read.
 * @throws MrvError `MRV_E_STORE` when the store fails (nothing was written but archive marks)
 */
export async function reviewGateway(
  store: TimeSeriesStore,
  unitId: string,
  gatewayId: string,
  now: number,
  unitOpen?: OpenFindings,
): Promise<GatewayReview> {
  const out: GatewayReview = { findings: [], marked: 0, open: 0 };
  const all = unitOpen ?? (await openOfUnit(store, unitId));
  const gaps = all.gaps.filter((f) => f.gatewayId === gatewayId);
  const broken = all.broken.filter((f) => f.gatewayId === gatewayId);
  if (gaps.length === 0 && broken.length === 0) return out;
  const raisedBroken = new Set<number>();
  for (const f of gaps) {
    const from = Number(f.detail.from);
    const to = Number(f.detail.to);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) continue;
    const links = await linksOf(store, unitId, gatewayId, from - 1, to + 1);
    const remaining = missingRanges(links, from, to);
    const before = seqRanges(f.detail.remaining) ?? [[from, to]];
    if (sameRanges(remaining, before)) continue;
    const arrived = missingRanges(new Map(remaining.flatMap(([a, b]) => seqsOf(a, b))), from, to);
    if (remaining.length > 0) {
      const detail = {
        ...f.detail,
        remaining,
        stillMissing: count(remaining),
        arrived,
        updatedAt: isoMs(now),
      };
      out.findings.push({ ...f, detail, message: gapMessage(gatewayId, detail) });
      continue;
    }
    // All arrived: check every link from the batch before the hole to the batch after it.
    const brokenAt: number[] = [];
    for (let seq = from; seq <= to + 1; seq++) {
      const link = links.get(seq);
      const expected = seq === 1 ? GENESIS_HASH : links.get(seq - 1)?.hash;
      if (link === undefined || expected === undefined || link.prevHash === expected) continue;
      brokenAt.push(seq);
      if (link.findings.includes('MRV_F_CHAIN_BROKEN') || raisedBroken.has(seq)) continue;
      raisedBroken.add(seq);
      const raised = await chainBroken(store, unitId, gatewayId, link, expected, now, broken);
      if (raised === undefined) continue;
      out.findings.push(raised);
      out.marked++;
    }
    let lastReceivedAt = 0;
    for (const [a, b] of arrived)
      for (let seq = a; seq <= b; seq++)
        lastReceivedAt = Math.max(lastReceivedAt, links.get(seq)?.receivedAt ?? 0);
    // The message of the gap as raised (a partial update's "still missing" no longer holds).
    const raisedAs = integrityFinding(
      'MRV_F_SEQ_GAP',
      { unitId, gatewayId, key: `${from}-${to}`, ts: f.ts, at: now },
      { from, to, missing: f.detail.missing ?? to - from + 1 },
    ).message;
    out.findings.push({
      ...f,
      message: raisedAs,
      detail: { ...f.detail, remaining: [], stillMissing: 0, arrived },
      state: 'resolved',
      resolvedAt: isoMs(now),
      resolution: {
        by: 'late-batches',
        seqs: arrived,
        message: lateMessage(arrived, lastReceivedAt, brokenAt),
        detail: { lastReceivedAt: isoMs(lastReceivedAt), brokenLinks: brokenAt },
      },
    });
  }
  for (const f of broken) {
    const seq = Number(f.detail.seq);
    if (!Number.isSafeInteger(seq) || seq < 1) continue;
    const links = await linksOf(store, unitId, gatewayId, seq - 1, seq);
    const link = links.get(seq);
    const expected = seq === 1 ? GENESIS_HASH : links.get(seq - 1)?.hash;
    if (link === undefined || expected === undefined || link.prevHash !== expected) continue;
    const seqs: SeqRange[] = [[Math.max(1, seq - 1), seq]];
    out.findings.push({
      ...f,
      state: 'resolved',
      resolvedAt: isoMs(now),
      resolution: {
        by: 'link-verified',
        seqs,
        message:
          seq === 1
            ? {
                zh: '批次 1 的 prevHash 为链起点哈希，校验通过',
                en: "batch 1's prevHash is the genesis hash: the link verifies",
              }
            : {
                zh: `批次 ${seq} 的 prevHash 与现已归档的批次 ${seq - 1} 的哈希一致，哈希链衔接校验通过`,
                en: `batch ${seq}'s prevHash is the hash of the batch ${seq - 1} archived now: the link verifies`,
              },
        detail: { prevHash: link.prevHash },
      },
    });
  }
  const open = new Set([...gaps, ...broken].map((f) => f.id));
  for (const f of out.findings)
    if (f.state === 'resolved') open.delete(f.id);
    else open.add(f.id);
  out.open = open.size;
  return out;
}

/**
 * The archived links of `from..to` (inclusive, paged), by seq, without quarantined batches (their
 * signature failed: no batch of the chain, so a hole only a forgery sits in stays missing).
 * @throws MrvError `MRV_E_STORE`
 */
async function linksOf(
  store: TimeSeriesStore,
  unitId: string,
  gatewayId: string,
  from: number,
  to: number,
): Promise<Map<number, BatchLink>> {
  const out = new Map<number, BatchLink>();
  let start = Math.max(0, from);
  while (start <= to) {
    const page = await store.listBatchLinks({ unitId, gatewayId, fromSeq: start, toSeq: to, limit: PAGE });
    for (const l of page) if (!quarantinedLink(l)) out.set(l.seq, l);
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) break;
    start = last.seq + 1;
  }
  return out;
}

/** The ranges of `from..to` that `have` lacks, lowest first. */
function missingRanges(have: ReadonlyMap<number, unknown>, from: number, to: number): SeqRange[] {
  const out: SeqRange[] = [];
  let lo: number | undefined;
  for (let seq = from; seq <= to; seq++) {
    if (!have.has(seq)) lo ??= seq;
    else if (lo !== undefined) {
      out.push([lo, seq - 1]);
      lo = undefined;
    }
  }
  if (lo !== undefined) out.push([lo, to]);
  return out;
}

/** `[seq, true]` for every seq of `a..b`. */
function seqsOf(a: number, b: number): [number, true][] {
  const out: [number, true][] = [];
  for (let seq = a; seq <= b; seq++) out.push([seq, true]);
  return out;
}

/** The seq ranges a finding's detail holds, or undefined when it holds none (or not ranges). */
function seqRanges(v: unknown): SeqRange[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const ok = v.every(
    (r) => Array.isArray(r) && r.length === 2 && r.every((x) => Number.isSafeInteger(x)) && r[0] <= r[1],
  );
  return ok ? (v as SeqRange[]) : undefined;
}

function sameRanges(a: readonly SeqRange[], b: readonly SeqRange[]): boolean {
  return a.length === b.length && a.every(([x, y], i) => b[i]?.[0] === x && b[i]?.[1] === y);
}

function count(ranges: readonly SeqRange[]): number {
  return ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
}

/** Seq ranges as text: `3–5, 8` (zh) or `3..5, 8` (en). */
export function formatSeqRanges(ranges: readonly SeqRange[], lang: 'zh' | 'en'): string {
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}${lang === 'zh' ? '–' : '..'}${b}`)).join(', ');
}

/** The message of a gap some of whose batches arrived: what is still missing. */
function gapMessage(
  gatewayId: string,
  d: {
    from?: unknown;
    to?: unknown;
    missing?: unknown;
    remaining: SeqRange[];
    stillMissing: number;
    arrived: SeqRange[];
  },
): { zh: string; en: string } {
  return {
    zh: `网关 ${gatewayId} 的批次 ${d.from}–${d.to} 缺失（共 ${d.missing} 批）；其中 ${formatSeqRanges(d.arrived, 'zh')} 已迟到补齐，仍缺 ${formatSeqRanges(d.remaining, 'zh')}（${d.stillMissing} 批）`,
    en: `gateway ${gatewayId}: batches ${d.from}..${d.to} were missing (${d.missing} batches); ${formatSeqRanges(d.arrived, 'en')} arrived late, still missing: ${formatSeqRanges(d.remaining, 'en')} (${d.stillMissing} batch${d.stillMissing === 1 ? '' : 'es'})`,
  };
}

/** The resolution message of a gap whose batches all arrived. */
function lateMessage(arrived: readonly SeqRange[], lastAt: number, brokenAt: readonly number[]) {
  const zhChain =
    brokenAt.length === 0
      ? '哈希链衔接校验通过'
      : `但批次 ${brokenAt.join(', ')} 处哈希链断裂（见 MRV_F_CHAIN_BROKEN）`;
  const enChain =
    brokenAt.length === 0
      ? 'the hash chain links verify'
      : `but the hash chain is broken at batch ${brokenAt.join(', ')} (see MRV_F_CHAIN_BROKEN)`;
  return {
    zh: `批次 ${formatSeqRanges(arrived, 'zh')} 已迟到补齐（最后一批接收于 ${isoMs(lastAt)}），${zhChain}`,
    en: `batches ${formatSeqRanges(arrived, 'en')} arrived late (the last received at ${isoMs(lastAt)}); ${enChain}`,
  };
}

/**
 * Raises a broken link found by the review and marks its archive record `failed` (as the chain audit);
 * undefined when that finding is stored already (a sole collector's arrival check raised it on the late
 * batch's record): among the gateway's `open` broken links, or under its id at its `ts`.
 */
async function chainBroken(
  store: TimeSeriesStore,
  unitId: string,
  gatewayId: string,
  link: BatchLink,
  expected: string,
  now: number,
  open: readonly Finding[],
): Promise<Finding | undefined> {
  const record = (await store.listBatches({ unitId, gatewayId, fromSeq: link.seq, toSeq: link.seq }))[0];
  const finding = integrityFinding(
    'MRV_F_CHAIN_BROKEN',
    {
      unitId,
      gatewayId,
      key: String(link.seq),
      ts: (record && firstReadingTs(record.canonical)) ?? isoMs(link.receivedAt),
      at: now,
    },
    { seq: link.seq, prevHash: link.prevHash, expected },
  );
  // (A sole collector's arrival check dates the break of the batch after a late one by the late batch.)
  if (open.some((f) => f.id === finding.id) || (await findingStored(store, finding))) return undefined;
  if (record !== undefined)
    await store.archiveBatches([
      { ...record, verdict: 'failed', findings: [...record.findings, 'MRV_F_CHAIN_BROKEN'] },
    ]);
  return finding;
}
