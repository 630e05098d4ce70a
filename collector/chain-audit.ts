/**
 * The chain audit of collectors that share one MQTT subscription (docs/architecture.md §1, docs/scale-out.md): with
 * `$share/{group}/…` the broker hands each batch of a gateway to one collector of the group, so no
 * collector sees a gateway's whole sequence and none can decide at arrival that a seq is missing or that
 * two neighbouring batches, stored by two collectors at the same moment, do not chain. The archive in
 * the store is the shared state: this audit walks it per gateway, in seq order, from a cursor.
 *
 * Per gateway, every round (the cursor is the last seq audited, with its hash):
 * - the next archived seq is `cursor + 1`: its `prevHash` must be the cursor's hash, else
 *   `MRV_F_CHAIN_BROKEN` (unless the collector that stored it raised it already: the archive record lists
 *   the codes raised for it); the record is then marked `failed` with that code, like at arrival;
 * - the next archived seq is higher: the seqs between are missing. They may still be on their way (held
 *   by another collector's session, or in a gateway's log during a broker outage), so `MRV_F_SEQ_GAP` is
 *   raised only once the batch after the hole has been archived for `graceMs`, and not while the
 *   gateway's newest archived batch says (`backlogFrom` at or below the hole) that the gateway still holds
 *   those batches in its log, sending them behind newer ones after an outage; until then the audit of
 *   that gateway waits at the hole. Batches that fill a hole after the finding resolve it: every round
 *   ends each gateway with a review of its open gap and broken-link findings against the archive
 *   (finding-lifecycle.ts), which also checks the links around a filled hole that no arrival check saw.
 * Findings carry the same ids as the arrival checks' (integrity.ts), so stores keep one per id; before
 * raising, the audit looks the id up, so that several collectors auditing the same archive raise each
 * finding once in practice (two audits in the same few milliseconds could both raise it: the store still
 * keeps one, the findings topic then carries it twice).
 *
 * A new cursor starts at the gateway's first archived batch within the last `lookbackBatches` seqs, at
 * genesis (seq 0) for a younger gateway; so a restarted collector audits again what the previous run
 * may not have finished, without walking years of archive.
 */
import type { Finding } from '../core/schema/finding.ts';
import { GENESIS_HASH } from '../core/schema/wire.ts';
import { type OpenFindings, openOfUnit, reviewGateway } from './finding-lifecycle.ts';
import { firstReadingTs, gapOnRecord, integrityFinding } from './integrity.ts';
import type { BatchLink, TimeSeriesStore } from './store.ts';
import { quarantinedLink } from './store-checks.ts';

/** Options of {@link ChainAudit}. */
export interface ChainAuditOptions {
  store: TimeSeriesStore;
  /** A hole is reported once the batch after it has been archived this long (ms). Default 300 000 (5 min). */
  graceMs?: number;
  /** A new cursor starts this many seqs below the gateway's head (or at genesis). Default 10 000. */
  lookbackBatches?: number;
  /** Links read per store query. Default 5 000. */
  pageSize?: number;
}

/** What one audit round found and checked. */
export interface ChainAuditRound {
  /** New findings, and open ones resolved or updated by the review (not yet stored: the caller stores and raises them). */
  findings: Finding[];
  /** Archive records whose verdict the audit changed to `failed` (already written back). */
  marked: number;
  /** Links walked. */
  checked: number;
}

interface Cursor {
  seq: number;
  /** Hash of the batch at `seq`; undefined when it is not known (start mid-chain, or after a hole). */
  hash: string | undefined;
  /** True for a cursor started mid-chain: no hole before its first archived batch is looked for. */
  start: boolean;
}

/** Walks every gateway's archived chain from a cursor; see the file comment. */
export class ChainAudit {
  readonly #cursors = new Map<string, Cursor>();
  readonly #grace: number;
  readonly #lookback: number;
  readonly #page: number;

  constructor(private readonly opts: ChainAuditOptions) {
    this.#grace = opts.graceMs ?? 300_000;
    this.#lookback = opts.lookbackBatches ?? 10_000;
    this.#page = opts.pageSize ?? 5_000;
  }

  /** The audited seq of a gateway (for status and tests); undefined before its first round. */
  cursor(unitId: string, gatewayId: string): number | undefined {
    return this.#cursors.get(`${unitId}/${gatewayId}`)?.seq;
  }

  /**
   * One round over every gateway in the archive, at collector time `now` (ms epoch).
   * @throws MrvError `MRV_E_STORE` when the store fails (the cursors keep what was done before)
   */
  async run(now: number): Promise<ChainAuditRound> {
    const round: ChainAuditRound = { findings: [], marked: 0, checked: 0 };
    /** Open gap and broken-link findings per unit, read once per round (finding-lifecycle.ts). */
    const open = new Map<string, OpenFindings>();
    for (const head of await this.opts.store.batchHeads()) {
      const key = `${head.unitId}/${head.gatewayId}`;
      let cur = this.#cursors.get(key);
      if (cur === undefined) {
        const from = head.seq - this.#lookback;
        cur =
          from <= 0
            ? { seq: 0, hash: GENESIS_HASH, start: false }
            : { seq: from, hash: undefined, start: true };
        this.#cursors.set(key, cur);
      }
      while (cur.seq < head.seq) {
        const links = await this.opts.store.listBatchLinks({
          unitId: head.unitId,
          gatewayId: head.gatewayId,
          fromSeq: cur.seq + 1,
          toSeq: head.seq,
          limit: this.#page,
        });
        if (links.length === 0) break;
        const waiting = await this.#walk(head.unitId, head.gatewayId, cur, links, now, round, head.seq);
        if (waiting || links.length < this.#page) break;
      }
      // Holes reported earlier may have been filled since (and the links around them verify now).
      let unitOpen = open.get(head.unitId);
      if (unitOpen === undefined) {
        unitOpen = await openOfUnit(this.opts.store, head.unitId);
        open.set(head.unitId, unitOpen);
      }
      const review = await reviewGateway(this.opts.store, head.unitId, head.gatewayId, now, unitOpen);
      round.findings.push(...review.findings);
      round.marked += review.marked;
    }
    return round;
  }

  /** Advances `cur` over `links`; true when it stopped at a hole still within its grace. */
  async #walk(
    unitId: string,
    gatewayId: string,
    cur: Cursor,
    links: readonly BatchLink[],
    now: number,
    round: ChainAuditRound,
    headSeq: number,
  ): Promise<boolean> {
    let held: number | undefined | null = null; // the newest batch's backlogFrom, read once when needed
    for (const link of links) {
      // A batch whose signature failed is quarantined, no link of the chain: a hole it sits in stays a hole.
      if (quarantinedLink(link)) continue;
      if (link.seq > cur.seq + 1 && !cur.start) {
        if (now - link.receivedAt < this.#grace) return true;
        if (held === null) held = await this.#backlogFrom(unitId, gatewayId, headSeq);
        if (held !== undefined && held <= cur.seq + 1) return true; // all still in the gateway's log
        const from = cur.seq + 1;
        // The gateway still holds the hole's upper part: report what it no longer holds, wait for the rest.
        const stillHeld = held !== undefined && held <= link.seq - 1;
        const to = stillHeld ? (held as number) - 1 : link.seq - 1;
        const finding = integrityFinding(
          'MRV_F_SEQ_GAP',
          {
            unitId,
            gatewayId,
            key: `${from}-${to}`,
            ts: await this.#firstTs(unitId, gatewayId, link),
            at: now,
          },
          { from, to, missing: to - from + 1, before: cur.seq === 0 ? null : cur.seq, after: to + 1 },
        );
        if (!(await gapOnRecord(this.opts.store, finding))) round.findings.push(finding);
        if (stillHeld) {
          cur.seq = to;
          cur.hash = undefined;
          return true;
        }
      } else if (cur.hash !== undefined && link.prevHash !== cur.hash) {
        if (!link.findings.includes('MRV_F_CHAIN_BROKEN'))
          round.findings.push(await this.#chainBroken(unitId, gatewayId, link, cur.hash, now, round));
      }
      round.checked++;
      cur.seq = link.seq;
      cur.hash = link.hash;
      cur.start = false;
    }
    return false;
  }

  /** Raises a broken link and marks its archive record `failed` with the code (as at arrival). */
  async #chainBroken(
    unitId: string,
    gatewayId: string,
    link: BatchLink,
    expected: string,
    now: number,
    round: ChainAuditRound,
  ): Promise<Finding> {
    const store = this.opts.store;
    const record = (await store.listBatches({ unitId, gatewayId, fromSeq: link.seq, toSeq: link.seq }))[0];
    const finding = integrityFinding(
      'MRV_F_CHAIN_BROKEN',
      { unitId, gatewayId, key: String(link.seq), ts: await this.#firstTs(unitId, gatewayId, link), at: now },
      { seq: link.seq, prevHash: link.prevHash, expected },
    );
    if (record !== undefined) {
      await store.archiveBatches([
        { ...record, verdict: 'failed', findings: [...record.findings, 'MRV_F_CHAIN_BROKEN'] },
      ]);
      round.marked++;
    }
    return finding;
  }

  /** `backlogFrom` of an archived batch (undefined when absent or unreadable). */
  async #backlogFrom(unitId: string, gatewayId: string, seq: number): Promise<number | undefined> {
    const record = (await this.opts.store.listBatches({ unitId, gatewayId, fromSeq: seq, toSeq: seq }))[0];
    if (record === undefined) return undefined;
    try {
      const b = JSON.parse(record.canonical) as { backlogFrom?: unknown };
      return typeof b.backlogFrom === 'number' ? b.backlogFrom : undefined;
    } catch {
      return undefined;
    }
  }

  /** The finding time of a batch: its first reading's source time (as at arrival), else its send time. */
  async #firstTs(unitId: string, gatewayId: string, link: BatchLink): Promise<string> {
    const record = (
      await this.opts.store.listBatches({ unitId, gatewayId, fromSeq: link.seq, toSeq: link.seq })
    )[0];
    return (record && firstReadingTs(record.canonical)) ?? new Date(link.receivedAt).toISOString();
  }
}
