/**
 * The national view (issue 14 item 2, docs/scale-out.md "Provinces and the national view"): one
 * read-only {@link TimeSeriesStore} over several province stores. A deployment partitioned by province
 * keeps each province's readings, catalogues, findings and batch archive in that province's own store
 * (its collectors write there, `mrv collector --province P`); `mrv server --federate P=sqlite:FILE
 * --federate Q=influx:URL` reads them all through this facade, so every route of the server (overview,
 * unit search, points, series, findings, evidence) covers every province without knowing there are
 * several stores.
 *
 * Routing: a unit's queries go to the store of its province as the **unit registry** places it (the
 * same source as province scope, server/auth.ts); a unit the registry lacks goes to the store that
 * listed it last ({@link listUnits}). Lists (`listUnits`, `batchHeads`) are merged.
 *
 * Availability: a province store that cannot be opened or whose query fails with `MRV_E_STORE` is
 * marked unavailable with the reason, and its units' queries fail fast with `MRV_E_STORE` naming the
 * province (503, never a 500) until a retry ({@link FederatedStoreOptions.retryMs}) finds it back.
 * `listUnits` leaves an unavailable province's units out and says so in {@link provinces}, which the
 * overview reads to show them `unavailable` (server/summary-routes.ts), never missing from its totals.
 *
 * Read-only: every write rejects with `MRV_E_STORE` (ingest goes to the province's collectors, never
 * through the national server). Open the province stores themselves read-only too (`readOnly` of
 * SqliteStore and InfluxStore), so that opening creates and migrates nothing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { MrvError } from '../core/errors.ts';
import type { Finding } from '../core/schema/finding.ts';
import type { UnitRegistry } from '../core/schema/unit-registry.ts';
import type { GatewayMeta, GatewayStatus } from '../core/schema/wire.ts';
import { type Clock, systemClock } from '../core/time.ts';
import type {
  ArchivedBatch,
  BatchHead,
  BatchLink,
  BatchQuery,
  FindingFilter,
  GoodCount,
  GoodCountQuery,
  PointSummary,
  QuarantinedReading,
  QuarantineQuery,
  RawReading,
  RawReadingQuery,
  SeriesPoint,
  SeriesQuery,
  StoredReading,
  TimeSeriesStore,
  UnitSummary,
} from './store.ts';
import { cstDayStart } from './store.ts';

/** Default {@link FederatedStoreOptions.retryMs}: 5 s. */
export const DEFAULT_FEDERATION_RETRY_MS = 5000;

/** One province's store in a federation. */
export interface ProvinceStore {
  /** The province as the unit registry spells it (`44`, `广东`): the registry's `province` of its units. */
  province: string;
  store: TimeSeriesStore;
  /** Where it is, for people, without secrets (e.g. `sqlite:/var/lib/mrv/44.sqlite`, `influx:http://10.0.4.4:8086 db mrv`). */
  label: string;
}

/** The state of one province's store as the federation last saw it ({@link FederatedStore.provinces}). */
export interface ProvinceAvailability {
  province: string;
  label: string;
  /** False after its store failed to open or to answer, until it answers again. */
  available: boolean;
  /** Why it is unavailable (the store's error message), or null. */
  reason: string | null;
  /** When the state was last established (ms epoch): the last query answered or failed. */
  checkedAt: number;
}

/** Options of {@link FederatedStore}. */
export interface FederatedStoreOptions {
  /** The province stores; provinces are unique. The federation starts and stops them. */
  provinces: readonly ProvinceStore[];
  /** The national unit registry: routes each registered unit to its province. */
  registry: UnitRegistry;
  log?: Logger;
  clock?: Clock;
  /** An unavailable store is tried again at most this often (ms); in between its queries fail at once. Default {@link DEFAULT_FEDERATION_RETRY_MS}. */
  retryMs?: number;
}

/** The federation's view of what a route asks about: whether a unit's province store answers. */
export interface Federation {
  /** Every federated province, in the order given, with its last known state. */
  provinces(): ProvinceAvailability[];
  /**
   * The province a unit's queries go to: its registered one, or for an unregistered unit the province
   * whose store listed it. Undefined for a unit no store listed.
   */
  provinceOf(unitId: string): string | undefined;
  /** The state of a province's store; undefined for a province that is not federated. */
  availability(province: string): ProvinceAvailability | undefined;
  /**
   * Runs `fn` and returns its result with the provinces whose unit listing ({@link FederatedStore.listUnits})
   * failed while it ran, in its own asynchronous context (not another request's), each with the error's
   * message. Whatever {@link availability} says afterwards (another query may have found the store back
   * meanwhile), a province in `failed` did not list its units for this caller: the overview shows them
   * unavailable (server/summary-routes.ts). Errors of `fn` propagate.
   */
  watchListing<T>(fn: () => Promise<T>): Promise<{ value: T; failed: ReadonlyMap<string, string> }>;
}

/** The provinces whose listing failed, per {@link Federation.watchListing} call (its async context). */
const listingWatch = new AsyncLocalStorage<Map<string, string>>();

interface Member extends ProvinceStore {
  available: boolean;
  reason: string | null;
  checkedAt: number;
  /** Set once `start()` succeeded. */
  started: boolean;
  /** Ms epoch before which an unavailable store is not tried again. */
  retryAt: number;
  /** A retry of the unavailable store is in flight: other queries fail fast meanwhile. */
  probing: boolean;
}

/** An unknown unit id lists the stores again at most this often, ms. */
const RELIST_MS = 10_000;

const READ_ONLY =
  'the national view is read-only: readings, catalogues and findings are written by each province’s collectors into its own store';

/** A read-only facade over province stores (see the file comment). Construct, `start()`, query, `stop()`. */
export class FederatedStore implements TimeSeriesStore, Federation {
  readonly #members: Member[];
  readonly #byProvince = new Map<string, Member>();
  readonly #registry: UnitRegistry;
  readonly #log: Logger | undefined;
  readonly #clock: Clock;
  readonly #retryMs: number;
  /** Unregistered units → the province whose store listed them last. */
  readonly #seen = new Map<string, string>();
  /** When {@link listUnits} last ran (ms epoch). */
  #listedAt = Number.NEGATIVE_INFINITY;

  /** @throws MrvError `MRV_E_CONFIG` for no province or one given twice */
  constructor(opts: FederatedStoreOptions) {
    if (opts.provinces.length === 0)
      throw new MrvError('MRV_E_CONFIG', 'a federation needs at least one province store');
    this.#registry = opts.registry;
    this.#log = opts.log?.child({ module: 'collector:federated-store' });
    this.#clock = opts.clock ?? systemClock;
    this.#retryMs = opts.retryMs ?? DEFAULT_FEDERATION_RETRY_MS;
    this.#members = opts.provinces.map((p) => ({
      ...p,
      available: false,
      reason: 'not opened yet',
      checkedAt: 0,
      started: false,
      retryAt: 0,
      probing: false,
    }));
    for (const m of this.#members) {
      if (this.#byProvince.has(m.province))
        throw new MrvError('MRV_E_CONFIG', `province ${m.province} is federated twice`, {
          province: m.province,
        });
      this.#byProvince.set(m.province, m);
    }
  }

  /** Opens every province store; one that fails stays unavailable (logged) and is retried on use. Never throws. */
  async start(): Promise<void> {
    await Promise.all(this.#members.map((m) => this.#open(m)));
  }

  /** Closes every province store (errors logged). */
  async stop(): Promise<void> {
    await Promise.all(
      this.#members.map(async (m) => {
        if (!m.started) return;
        m.started = false;
        try {
          await m.store.stop();
        } catch (err) {
          this.#log?.warn(
            { province: m.province, err: (err as Error).message },
            'closing a province store failed',
          );
        }
      }),
    );
  }

  provinces(): ProvinceAvailability[] {
    return this.#members.map((m) => this.#state(m));
  }

  availability(province: string): ProvinceAvailability | undefined {
    const m = this.#byProvince.get(province);
    return m ? this.#state(m) : undefined;
  }

  provinceOf(unitId: string): string | undefined {
    return this.#registry.province(unitId) ?? this.#seen.get(unitId);
  }

  async watchListing<T>(fn: () => Promise<T>): Promise<{ value: T; failed: ReadonlyMap<string, string> }> {
    const failed = new Map<string, string>();
    const value = await listingWatch.run(failed, fn);
    return { value, failed };
  }

  #state(m: Member): ProvinceAvailability {
    return {
      province: m.province,
      label: m.label,
      available: m.available,
      reason: m.reason,
      checkedAt: m.checkedAt,
    };
  }

  async #open(m: Member): Promise<boolean> {
    if (m.started) return true;
    try {
      await m.store.start();
      m.started = true;
      this.#mark(m, null);
      this.#log?.info({ province: m.province, store: m.label }, 'province store open');
      return true;
    } catch (err) {
      this.#mark(m, (err as Error).message);
      return false;
    }
  }

  #mark(m: Member, reason: string | null): void {
    const now = this.#clock.now();
    const was = m.available;
    const wasReason = m.reason;
    m.available = reason === null;
    m.reason = reason;
    m.checkedAt = now;
    if (reason !== null) {
      m.retryAt = now + this.#retryMs;
      if (was || wasReason !== reason)
        this.#log?.warn({ province: m.province, store: m.label, reason }, 'province store unavailable');
    } else if (!was) m.retryAt = 0;
  }

  #unavailable(m: Member): MrvError {
    return new MrvError(
      'MRV_E_STORE',
      `province ${m.province} store unavailable (${m.label}): ${m.reason ?? 'unknown'}`,
      { province: m.province, store: m.label },
    );
  }

  /**
   * Runs `fn` on a province's store: fails fast while it is unavailable and not due for a retry; marks
   * it unavailable on `MRV_E_STORE`, available again on an answer.
   * @throws MrvError `MRV_E_STORE` naming the province; other errors of the store as they are
   */
  async #on<T>(m: Member, fn: (s: TimeSeriesStore) => Promise<T>): Promise<T> {
    // An unavailable store is retried by one query at a time, once due: a hung store holds one
    // request for its timeout, not every request of an overview.
    const probe = !m.available;
    if (probe && (m.probing || this.#clock.now() < m.retryAt)) throw this.#unavailable(m);
    if (probe) m.probing = true;
    try {
      if (!m.started && !(await this.#open(m))) throw this.#unavailable(m);
      const out = await fn(m.store);
      if (!m.available) {
        this.#mark(m, null);
        this.#log?.info({ province: m.province, store: m.label }, 'province store available again');
      }
      return out;
    } catch (err) {
      if (err instanceof MrvError && err.code === 'MRV_E_STORE') {
        if (!(err.detail as { province?: unknown } | undefined)?.province) this.#mark(m, err.message);
        throw this.#unavailable(m);
      }
      throw err;
    } finally {
      if (probe) m.probing = false;
    }
  }

  /**
   * The member a unit's queries go to (file comment), or undefined for a unit no store knows. A unit
   * registered in a province that is not federated is an error: its data is nowhere this server reads.
   * @throws MrvError `MRV_E_STORE`
   */
  async #route(unitId: string): Promise<Member | undefined> {
    const registered = this.#registry.province(unitId);
    if (registered !== undefined) {
      const m = this.#byProvince.get(registered);
      if (!m)
        throw new MrvError(
          'MRV_E_STORE',
          `unit ${unitId} is registered in province ${registered}, whose store this server does not federate`,
          { unitId, province: registered },
        );
      return m;
    }
    let province = this.#seen.get(unitId);
    // An id no store listed: list again, at most every RELIST_MS (unknown ids must not each cost a
    // listing of every province).
    if (province === undefined && this.#clock.now() - this.#listedAt >= RELIST_MS) {
      await this.listUnits().catch(() => undefined);
      province = this.#seen.get(unitId);
    }
    return province === undefined ? undefined : this.#byProvince.get(province);
  }

  /**
   * Every available province's units, merged (a unit listed by two stores: the one of its registered
   * province wins, else the first). Unavailable provinces are left out and marked ({@link provinces}).
   */
  async listUnits(): Promise<UnitSummary[]> {
    this.#listedAt = this.#clock.now();
    const lists = await Promise.all(
      this.#members.map((m) =>
        this.#on(m, (s) => s.listUnits()).then(
          (units) => ({ m, units }),
          (err: unknown) => {
            const msg = err instanceof Error ? err.message : String(err);
            // `#on`'s errors name the province already; another error (not MRV_E_STORE) is named here.
            const named = msg.startsWith(`province ${m.province} `)
              ? msg
              : `province ${m.province} store unavailable (${m.label}): ${msg}`;
            listingWatch.getStore()?.set(m.province, named);
            return { m, units: [] as UnitSummary[] };
          },
        ),
      ),
    );
    const out = new Map<string, UnitSummary>();
    for (const { m, units } of lists)
      for (const u of units) {
        const registered = this.#registry.province(u.id);
        if (registered === undefined && !out.has(u.id)) this.#seen.set(u.id, m.province);
        if (!out.has(u.id) || registered === m.province) out.set(u.id, u);
      }
    return [...out.values()];
  }

  async listPoints(unitId: string): Promise<PointSummary[] | undefined> {
    const m = await this.#route(unitId);
    return m ? this.#on(m, (s) => s.listPoints(unitId)) : undefined;
  }

  async series(q: SeriesQuery): Promise<SeriesPoint[]> {
    const m = await this.#route(q.unitId);
    return m ? this.#on(m, (s) => s.series(q)) : [];
  }

  /**
   * The unit's province store's counts; a province store without the method answers them from its
   * stepped series (summed and counted per point), so the figures are the same either way.
   */
  async goodReadingCounts(q: GoodCountQuery): Promise<Map<string, GoodCount>> {
    const m = await this.#route(q.unitId);
    const zero = () => new Map<string, GoodCount>(q.pointIds.map((p) => [p, { good: 0, buckets: 0 }]));
    if (!m) return zero();
    return this.#on(m, async (s) => {
      if (s.goodReadingCounts) return s.goodReadingCounts(q);
      const out = zero();
      for (const pointId of out.keys()) {
        const b = await s.series({ unitId: q.unitId, pointId, from: q.from, to: q.to, stepMs: q.stepMs });
        out.set(pointId, {
          good: b.reduce((n, x) => n + x.count, 0),
          buckets: b.filter((x) => x.count > 0).length,
        });
      }
      return out;
    });
  }

  async rawReadings(q: RawReadingQuery): Promise<RawReading[]> {
    const m = await this.#route(q.unitId);
    return m ? this.#on(m, (s) => s.rawReadings(q)) : [];
  }

  async listQuarantine(q: QuarantineQuery): Promise<QuarantinedReading[]> {
    const m = await this.#route(q.unitId);
    return m ? this.#on(m, (s) => s.listQuarantine(q)) : [];
  }

  async listFindings(unitId: string, from: number, to: number, filter?: FindingFilter): Promise<Finding[]> {
    const m = await this.#route(unitId);
    return m ? this.#on(m, (s) => s.listFindings(unitId, from, to, filter)) : [];
  }

  async listOpenFindings(
    unitId: string,
    code: string,
    filter?: Omit<FindingFilter, 'code' | 'state'>,
  ): Promise<Finding[]> {
    const m = await this.#route(unitId);
    return m ? this.#on(m, (s) => s.listOpenFindings(unitId, code, filter)) : [];
  }

  async listBatches(q: BatchQuery): Promise<ArchivedBatch[]> {
    const m = await this.#route(q.unitId);
    return m ? this.#on(m, (s) => s.listBatches(q)) : [];
  }

  async listBatchLinks(q: BatchQuery): Promise<BatchLink[]> {
    const m = await this.#route(q.unitId);
    return m ? this.#on(m, (s) => s.listBatchLinks(q)) : [];
  }

  /**
   * Every province's chain heads, merged.
   * @throws MrvError `MRV_E_STORE` when a province store is unavailable (a partial list would look whole)
   */
  async batchHeads(): Promise<BatchHead[]> {
    const lists = await Promise.all(this.#members.map((m) => this.#on(m, (s) => s.batchHeads())));
    return lists.flat();
  }

  /**
   * The unit's province store's marks. A store without marks gets a new token for every day at every
   * call, so that a day aggregate kept for it is never taken as current.
   */
  async readingDayMarks(unitId: string, from: number, to: number): Promise<Map<number, string>> {
    const m = await this.#route(unitId);
    if (!m) return new Map();
    return this.#on(m, async (s) => {
      if (s.readingDayMarks) return s.readingDayMarks(unitId, from, to);
      const token = `unmarked-${randomUUID()}`;
      const out = new Map<number, string>();
      for (let d = cstDayStart(from); d < to; d += 86_400_000) if (d >= from) out.set(d, token);
      return out;
    });
  }

  /** @throws MrvError `MRV_E_STORE` always: read-only (file comment). */
  async writeReadings(_readings: StoredReading[]): Promise<number> {
    throw new MrvError('MRV_E_STORE', READ_ONLY);
  }

  /** @throws MrvError `MRV_E_STORE` always: read-only. */
  async writeMeta(_unitId: string, _meta: GatewayMeta): Promise<void> {
    throw new MrvError('MRV_E_STORE', READ_ONLY);
  }

  /** @throws MrvError `MRV_E_STORE` always: read-only. */
  async writeStatus(_unitId: string, _status: GatewayStatus, _receivedAt: number): Promise<void> {
    throw new MrvError('MRV_E_STORE', READ_ONLY);
  }

  /** @throws MrvError `MRV_E_STORE` always: read-only. */
  async writeFindings(_findings: Finding[]): Promise<number> {
    throw new MrvError('MRV_E_STORE', READ_ONLY);
  }

  /** @throws MrvError `MRV_E_STORE` always: read-only. */
  async archiveBatches(_batches: ArchivedBatch[]): Promise<number> {
    throw new MrvError('MRV_E_STORE', READ_ONLY);
  }
}
