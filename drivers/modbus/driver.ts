/**
 * The Modbus device poller shared by the `modbus-tcp`, `modbus-rtu` and `modbus-rtu-over-tcp`
 * drivers: they differ only in the {@link LinkSpec} they connect with. Points are coalesced into as
 * few requests as the device allows (plan.ts), read over a link (link.ts) and decoded purely
 * (decode.ts). Every failure becomes a `bad` reading with a stable reason code; an old value is never
 * repeated as if it were fresh.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Reading } from '../../core/schema/wire.ts';
import { isoMs, nextDue } from '../../core/time.ts';
import type { Driver, DriverContext, DriverStatus, ReadingSink } from '../types.ts';
import type { ModbusDevice, ModbusPoint } from './config.ts';
import { decodePoint, registerCount } from './decode.ts';
import {
  decodeNumber,
  decodeRecord,
  formatRanges,
  planRingRequests,
  type RingRequest,
  rangeCount,
  selectRecords,
  type TicketRecord,
} from './event-log.ts';
import type { ModbusEventLog } from './event-log-config.ts';
import { EventLogState } from './event-log-state.ts';
import {
  acquireLink,
  describeLink,
  type LinkError,
  type LinkSpec,
  type ModbusLink,
  releaseLink,
} from './link.ts';
import { type PollGroup, planGroups, type ReadRequest } from './plan.ts';

/** The link a device config connects over. */
export function linkSpecOf(config: ModbusDevice): LinkSpec {
  switch (config.driver) {
    case 'modbus-tcp':
      return { kind: 'tcp', host: config.host, port: config.port };
    case 'modbus-rtu-over-tcp':
      return { kind: 'rtu-over-tcp', host: config.host, port: config.port };
    case 'modbus-rtu':
      return {
        kind: 'rtu',
        path: config.path,
        baudRate: config.baudRate,
        parity: config.parity,
        dataBits: config.dataBits,
        stopBits: config.stopBits,
      };
  }
}

/** Most readings handed to the sink at once when an event log catches up (a batch holds at most 10 000). */
const EVENT_LOG_READINGS_PER_SINK = 1000;

/**
 * Cycles a ticket number above the newest record in the ring is asked for again before it is reported
 * missing: a terminal may count its index up a moment before it writes the record.
 */
const PENDING_CYCLES = 3;

/** What {@link ModbusDriver.readEventLogs} found in one event log (for `mrv check-config`). */
export interface EventLogSnapshot {
  id: string;
  /** The latest ticket number the index shows; absent when the read failed. */
  index?: number;
  /** Records (non-empty slots) the ring holds, their lowest and highest number. */
  held: number;
  lowest?: number;
  highest?: number;
  /** Weighing time of the highest, ISO-8601 (absent when it does not decode). */
  newestTime?: string;
  /** Why the log could not be read. */
  error?: string;
}

/** Longest wait for the host's log to sync a batch of tickets before their number is kept in memory only. */
const DURABLE_WAIT_MS = 60_000;

/** An event log of the device with its ring requests and poll interval. */
interface EventLogPlan {
  log: ModbusEventLog;
  requests: RingRequest[];
  intervalMs: number;
}

/**
 * A Modbus device poller. `start` runs one loop per poll group (points sharing an interval); each
 * group cycle reads the group's requests and hands one batch (every point of the group, good or bad)
 * to the sink. Each event log (ticket memory, event-log-config.ts) has its own loop: it reads the
 * index and, when it moved, the ring, and hands the new tickets to the sink, each reading stamped
 * with its ticket's weighing time.
 */
export class ModbusDriver implements Driver {
  readonly #groups: PollGroup[];
  readonly #eventLogs: EventLogPlan[];
  readonly #state: EventLogState;
  readonly #meters: Map<string, string>;
  /** Per event log: the index whose newest numbers were not in the ring yet, and for how many cycles. */
  readonly #pending = new Map<string, { index: number; cycles: number }>();
  readonly #spec: LinkSpec;
  #link: ModbusLink | undefined;
  #abort: AbortController | undefined;
  #loops: Promise<void>[] = [];
  #status: DriverStatus = { connected: false, cycles: 0, failedRequests: 0 };

  constructor(
    readonly config: ModbusDevice,
    private readonly ctx: DriverContext,
  ) {
    this.#groups = planGroups(config.points, config.pollIntervalMs, {
      maxRegisters: config.maxRegistersPerRequest,
      maxGap: config.maxGap,
      maxBits: config.maxBitsPerRequest,
      maxBitGap: config.maxBitGap,
    });
    this.#spec = linkSpecOf(config);
    this.#eventLogs = (config.eventLogs ?? []).map((log) => ({
      log,
      requests: planRingRequests(log, config.maxRegistersPerRequest),
      intervalMs: log.pollIntervalMs ?? config.pollIntervalMs,
    }));
    this.#state = new EventLogState(config.id, ctx.dataDir, ctx.log);
    this.#meters = new Map(config.points.flatMap((p) => (p.meter ? [[p.id, p.meter] as const] : [])));
  }

  /** The planned read requests of every poll group (for status pages and tests). */
  get requests(): readonly ReadRequest[] {
    return this.#groups.flatMap((g) => g.requests);
  }

  /** The poll groups, fastest first. */
  get groups(): readonly PollGroup[] {
    return this.#groups;
  }

  /**
   * Starts one poll loop per group.
   * @throws MrvError MRV_E_CONFIG when the serial port is already used with other line settings
   */
  async start(sink: ReadingSink): Promise<void> {
    if (this.#abort) throw new Error(`device ${this.config.id}: already started`);
    this.#linkOrAcquire();
    const abort = new AbortController();
    this.#abort = abort;
    if (this.#eventLogs.length > 0) this.#state.load();
    this.#loops = [
      ...this.#groups.map((g) => this.#run(g, sink, abort.signal)),
      ...this.#eventLogs.map((e) => this.#runEventLog(e, sink, abort.signal)),
    ];
  }

  /** Stops every loop, waits for in-flight requests and gives the link back (closing it if last). */
  async stop(): Promise<void> {
    this.#abort?.abort(new Error('stopped'));
    await Promise.all(this.#loops);
    this.#loops = [];
    this.#abort = undefined;
    if (this.#link) releaseLink(this.#link);
    this.#link = undefined;
    this.#status.connected = false;
  }

  status(): DriverStatus {
    const link = this.#link;
    return {
      ...this.#status,
      pollGroups: this.#groups.length,
      connected: link?.connected ?? false,
      ...(link ? { connects: link.stats.connects, drains: link.stats.drains } : {}),
    };
  }

  /** Runs one cycle of every poll group now and returns one reading per configured point. */
  async pollOnce(): Promise<Reading[]> {
    const out: Reading[] = [];
    for (const g of this.#groups) out.push(...(await this.#poll(g.requests)));
    return out;
  }

  /**
   * Reads every event log once (index and ring), emitting nothing and keeping no state: what a
   * commissioning engineer checks before the gateway runs the file. Call {@link stop} afterwards to
   * give the link back.
   */
  async readEventLogs(): Promise<EventLogSnapshot[]> {
    const link = this.#linkOrAcquire();
    const out: EventLogSnapshot[] = [];
    for (const { log, requests } of this.#eventLogs) {
      const idx = await link.read(log.table, log.index.address, registerCount(log.index.type), this.config);
      if (!idx.ok) {
        out.push({ id: log.id, held: 0, error: `${idx.error.code}: ${idx.error.message}` });
        continue;
      }
      const index = decodeNumber(idx.bytes, 0, log.index.type, log.index.order);
      const records: TicketRecord[] = [];
      let error: string | undefined;
      for (const req of requests) {
        const r = await link.read(log.table, req.address, req.count, this.config);
        if (!r.ok) {
          error = `${r.error.code}: ${r.error.message}`;
          break;
        }
        for (let i = 0; i < req.slots; i++)
          records.push(decodeRecord(log, r.bytes, i * log.ring.stride * 2, req.firstSlot + i));
      }
      const held = records.filter((r) => r.number > 0).sort((a, b) => a.number - b.number);
      const newest = held.at(-1);
      out.push({
        id: log.id,
        index,
        held: held.length,
        ...(held[0] ? { lowest: held[0].number } : {}),
        ...(newest ? { highest: newest.number } : {}),
        ...(newest?.timeMs !== undefined ? { newestTime: isoMs(newest.timeMs) } : {}),
        ...(error ? { error } : {}),
      });
    }
    return out;
  }

  #linkOrAcquire(): ModbusLink {
    this.#link ??= acquireLink(this.#spec, this.config.id, {
      clock: this.ctx.clock,
      log: this.ctx.log,
      reconnectDelayMs: this.config.reconnectDelayMs,
      connectTimeoutMs: this.config.timeoutMs,
    });
    return this.#link;
  }

  async #poll(requests: readonly ReadRequest[], signal?: AbortSignal): Promise<Reading[]> {
    const link = this.#linkOrAcquire();
    const readings: Reading[] = [];
    let failure: LinkError | undefined;
    for (const req of requests) {
      if (failure) {
        this.#pushBad(readings, req, failure);
        continue;
      }
      const r = await link.read(req.table, req.address, req.count, { ...this.config, signal });
      if (r.ok) {
        this.#status.lastSuccessAt = r.at;
        this.#decodeInto(readings, req, r.bytes, r.at);
        continue;
      }
      // A stopping driver abandoned the request: its readings are never delivered, nothing failed.
      if (signal?.aborted) return readings;
      this.#status.failedRequests++;
      this.#status.lastError = `${r.error.code}: ${r.error.message}`;
      this.#pushBad(readings, req, r.error);
      // After a lost connection every later request of this cycle would fail the same way.
      if (r.error.code === 'MRV_E_DEVICE_UNREACHABLE') failure = r.error;
    }
    this.#status.cycles++;
    if (!readings.some((r) => r.quality === 'bad')) delete this.#status.lastError;
    return readings;
  }

  async #run(group: PollGroup, sink: ReadingSink, signal: AbortSignal): Promise<void> {
    const { clock, log } = this.ctx;
    // A fixed grid (core/time.ts nextDue): the group is read as often as its interval promises.
    let due = clock.now();
    while (!signal.aborted) {
      const readings = await this.#poll(group.requests, signal);
      if (signal.aborted) break;
      try {
        sink(readings);
      } catch (err) {
        log.error({ err, device: this.config.id }, 'reading sink failed');
      }
      const now = clock.now();
      due = nextDue(due, group.intervalMs, now);
      const wait = Math.max(0, due - now);
      try {
        await clock.sleep(wait, signal);
      } catch {
        break;
      }
    }
  }

  /**
   * One event-log cycle: the index, and when it moved past the last number emitted, the ring.
   * @returns the readings of the new tickets (plus one bad reading naming the numbers the ring lost)
   *   and the number to record once they are delivered; undefined when nothing is to be done or a
   *   request failed (the next cycle tries again: the ring still holds the tickets)
   */
  async #pollEventLog(
    plan: EventLogPlan,
    signal: AbortSignal,
  ): Promise<{ readings: Reading[]; next: number } | undefined> {
    const { log } = plan;
    const link = this.#linkOrAcquire();
    const opts = { ...this.config, signal };
    const idx = await link.read(log.table, log.index.address, registerCount(log.index.type), opts);
    if (!idx.ok) {
      if (!signal.aborted) this.#failed(idx.error);
      return undefined;
    }
    this.#status.lastSuccessAt = idx.at;
    const index = decodeNumber(idx.bytes, 0, log.index.type, log.index.order);
    const lastSeen = this.#state.get(log.id);
    if (index === lastSeen) return undefined;
    const records: TicketRecord[] = [];
    for (const req of plan.requests) {
      const r = await link.read(log.table, req.address, req.count, opts);
      if (!r.ok) {
        if (!signal.aborted) this.#failed(r.error);
        return undefined;
      }
      for (let i = 0; i < req.slots; i++)
        records.push(decodeRecord(log, r.bytes, i * log.ring.stride * 2, req.firstSlot + i));
    }
    const now = this.ctx.clock.now();
    const rxTs = isoMs(now);
    // Numbers above the newest record are asked for again for a few cycles before they count as lost.
    const pending = this.#pending.get(log.id);
    const reportTop = pending !== undefined && pending.index === index && pending.cycles >= PENDING_CYCLES;
    const sel = selectRecords(records, lastSeen, index, reportTop);
    if (sel.pending)
      this.#pending.set(log.id, {
        index,
        cycles: pending?.index === index ? pending.cycles + 1 : 1,
      });
    else this.#pending.delete(log.id);
    if (sel.renumbered)
      this.ctx.log.warn(
        { device: this.config.id, eventLog: log.id, lastSeen, index },
        'ticket numbers went backwards (terminal reset or replaced): the ring is read whole',
      );
    const readings: Reading[] = [];
    for (const rec of sel.fresh) readings.push(...this.#recordReadings(log, rec, rxTs));
    // After the tickets, so that batches split on whole tickets (#runEventLog).
    if (sel.missing.length > 0) {
      const n = rangeCount(sel.missing);
      const text = formatRanges(sel.missing);
      this.ctx.log.warn(
        { device: this.config.id, eventLog: log.id, missing: sel.missing, count: n },
        'tickets overwritten in the terminal before they were read',
      );
      readings.push({
        ...this.#base(log.number.point, rxTs, rxTs),
        value: null,
        quality: 'bad',
        reason:
          `MRV_E_TICKETS_OVERWRITTEN: ${n} ticket(s) ${text} were overwritten in event log ${log.id} (${log.ring.records} records) before they were read`.slice(
            0,
            500,
          ),
      });
    }
    return { readings, next: sel.next };
  }

  /** The readings of one ticket: its number and every field, at its weighing time. */
  #recordReadings(log: ModbusEventLog, rec: TicketRecord, rxTs: string): Reading[] {
    // Without a weighing time the ticket is placed at the time it was read, flagged uncertain.
    const ts = rec.timeMs !== undefined ? isoMs(rec.timeMs) : rxTs;
    const uncertain =
      rec.timeMs === undefined
        ? { quality: 'uncertain' as const, reason: `MRV_E_DECODE: ticket ${rec.number}: ${rec.timeError}` }
        : { quality: 'good' as const };
    const out: Reading[] = [
      { ...this.#base(log.number.point, ts, rxTs), value: String(rec.number), ...uncertain },
    ];
    for (const v of rec.values)
      out.push(
        v.value !== undefined
          ? { ...this.#base(v.point, ts, rxTs), value: v.value, ...uncertain }
          : {
              ...this.#base(v.point, ts, rxTs),
              value: null,
              quality: 'bad',
              reason: `MRV_E_DECODE: ticket ${rec.number}: ${v.error}`,
            },
      );
    return out;
  }

  /**
   * The common fields of an event-log reading. A ticket's readings carry `serverTs` = the time the
   * gateway read it from the terminal (the terminal served it then; `ts` is its weighing time): the
   * collector checks device clocks on `serverTs`, so a ticket read hours after it was weighed (after
   * an outage) is no clock skew (collector/integrity.ts).
   */
  #base(
    point: string,
    ts: string,
    rxTs: string,
  ): Pick<Reading, 'point' | 'meter' | 'ts' | 'rxTs' | 'serverTs'> {
    const meter = this.#meters.get(point);
    const times = ts === rxTs ? { ts, rxTs } : { ts, rxTs, serverTs: rxTs };
    return meter ? { point, meter, ...times } : { point, ...times };
  }

  #failed(error: LinkError): void {
    this.#status.failedRequests++;
    this.#status.lastError = `${error.code}: ${error.message}`;
  }

  async #runEventLog(plan: EventLogPlan, sink: ReadingSink, signal: AbortSignal): Promise<void> {
    const { clock, log } = this.ctx;
    let due = clock.now();
    while (!signal.aborted) {
      let got: { readings: Reading[]; next: number } | undefined;
      try {
        got = await this.#pollEventLog(plan, signal);
      } catch (err) {
        // A decoding bug must not end the loop: the ring still holds the tickets for the next cycle.
        got = undefined;
        this.#status.lastError = `MRV_E_DECODE: event log ${plan.log.id}: ${(err as Error).message}`;
        log.error({ err, device: this.config.id, eventLog: plan.log.id }, 'event log cycle failed');
      }
      if (signal.aborted) break;
      if (got) {
        let delivered = true;
        // Whole tickets per call: a ticket's readings are never split over two batches.
        const perTicket = 1 + plan.log.fields.length;
        const step = Math.max(
          perTicket,
          EVENT_LOG_READINGS_PER_SINK - (EVENT_LOG_READINGS_PER_SINK % perTicket),
        );
        for (let i = 0; i < got.readings.length && delivered; i += step) {
          try {
            sink(got.readings.slice(i, i + step));
          } catch (err) {
            delivered = false;
            log.error({ err, device: this.config.id, eventLog: plan.log.id }, 'reading sink failed');
          }
        }
        // The number is kept on disk only once the gateway's log holds the tickets on disk (its group
        // commit may fsync a moment later); without a durable log, in memory only: a restart then
        // reads the ring whole again (repeats count once), so no ticket is lost either way.
        if (delivered && got.next !== this.#state.get(plan.log.id)) {
          const durable = this.ctx.durable;
          if (durable === undefined) this.#state.remember(plan.log.id, got.next, isoMs(clock.now()));
          else if (await this.#untilDurable(durable(), signal))
            this.#state.set(plan.log.id, got.next, isoMs(clock.now()));
          else this.#state.remember(plan.log.id, got.next, isoMs(clock.now()));
        }
      }
      const now = clock.now();
      due = nextDue(due, plan.intervalMs, now);
      const wait = Math.max(0, due - now);
      try {
        await clock.sleep(wait, signal);
      } catch {
        break;
      }
    }
  }

  /**
   * True once the host's log holds the tickets on disk; false when the driver stops first or the log
   * has not synced within {@link DURABLE_WAIT_MS} (a failing disk: the gateway then publishes from
   * memory and declares the loss; the event log goes on reading, its number kept in memory).
   */
  async #untilDurable(durable: Promise<void>, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    const done = new AbortController();
    const onAbort = () => done.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([
        durable.then(() => true),
        // Real time, not the plant clock: an fsync takes wall-clock time whatever the demo's speed (a
        // ManualClock advanced by a test, or --speed 2880, would end a plant-time wait at once).
        delay(this.ctx.durableWaitMs ?? DURABLE_WAIT_MS, undefined, { signal: done.signal }).then(
          () => false,
          () => false,
        ),
      ]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      done.abort();
    }
  }

  #decodeInto(out: Reading[], req: ReadRequest, bytes: Uint8Array, at: number): void {
    const ts = isoMs(at);
    for (const { point, byteOffset } of req.points) {
      try {
        const value = decodePoint(point, bytes, byteOffset);
        // Literals in the order of base() (the published JSON keeps its key order), without a spread per reading.
        out.push(
          point.meter
            ? { point: point.id, meter: point.meter, ts, rxTs: ts, value, quality: 'good' }
            : { point: point.id, ts, rxTs: ts, value, quality: 'good' },
        );
      } catch (err) {
        out.push({
          ...base(point, ts),
          value: null,
          quality: 'bad',
          reason: `MRV_E_DECODE: ${(err as Error).message}`,
        });
      }
    }
  }

  #pushBad(out: Reading[], req: ReadRequest, error: LinkError): void {
    const ts = isoMs(this.ctx.clock.now());
    for (const { point } of req.points)
      out.push({
        ...base(point, ts),
        value: null,
        quality: 'bad',
        reason: `${error.code}: ${error.message}`,
      });
  }

  /** The endpoint, for messages. */
  toString(): string {
    return `${this.config.id} (${describeLink(this.#spec)} unit ${this.config.unitId})`;
  }
}

function base(point: ModbusPoint, ts: string): Pick<Reading, 'point' | 'meter' | 'ts' | 'rxTs'> {
  return { point: point.id, ...(point.meter ? { meter: point.meter } : {}), ts, rxTs: ts };
}
