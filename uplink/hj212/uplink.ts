/**
 * The HJ 212 uplink: reads one unit's data from the {@link TimeSeriesStore} and sends it to a
 * regulator's platform as each configured device (MN), over one TCP connection per device.
 *
 * - 2051 minute, 2061 hour, 2031 day data: one message per completed interval (DataTime = interval
 *   start, UTC+8; a day is a UTC+8 calendar day), sent in order of interval end once `settleMs` has
 *   passed after it, each waiting for its 9014 (Flag A set). Minute and hour values come from the
 *   store's minute/hour buckets; a day is combined from its 24 hour buckets (the store's day buckets
 *   are UTC days). Avg/Min/Max are of good readings only; a point without good readings in the
 *   interval is sent with its data flag alone (core/hj212/flags.ts).
 * - 2011 real-time data (optional): every `intervalS`, the newest reading of each point, sent without
 *   asking for an acknowledgement and never caught up after an outage (real-time data is only real-time
 *   while it is fresh).
 * - Delivery: stop-and-wait per device; no ack within `ackTimeoutMs` → retransmit, up to `retries`
 *   times; then the connection is dropped and re-made with a doubling delay, and the same message
 *   (same QN) is sent again. The cursor file advances only after every packet of a message was
 *   acknowledged, so an outage of the platform, the network or this process leaves no gap; a graceful
 *   stop finishes the message in flight, so it leaves no duplicate either.
 * - The password (PW) is in every frame: frames are never logged, except at debug level with PW masked.
 */
import { Decimal } from 'decimal.js';
import type { Logger } from 'pino';
import type { SeriesPoint, TimeSeriesStore } from '../../collector/store.ts';
import { calibrationStatus } from '../../core/domain/calibration.ts';
import { MrvError } from '../../core/errors.ts';
import { type CodeValues, type DataMessage, encodeDataMessage, qnOf } from '../../core/hj212/data.ts';
import { type DataFlag, deriveDataFlag, type MeterCalibrationState } from '../../core/hj212/flags.ts';
import { CN, type DataCn, flagOf } from '../../core/hj212/protocol.ts';
import type { MeterMeta } from '../../core/schema/wire.ts';
import { type Clock, systemClock } from '../../core/time.ts';
import type { LoadedUplink, UplinkDevice, UplinkPoint } from './config.ts';
import { CursorFile } from './cursor.ts';
import { type Hj212Link, type LinkCounters, newCounters, openLink } from './link.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const CST = 8 * HOUR;

/** Where the uplink finds calibration records: meters, and which meter each point belongs to. */
export interface MeterCatalogue {
  meters: MeterMeta[];
  /** point id → meter id */
  pointMeter: Map<string, string>;
}

/** Options of {@link Hj212Uplink}. */
export interface UplinkOptions {
  loaded: LoadedUplink;
  /** MN → password, from {@link resolvePasswords}. */
  passwords: Map<string, string>;
  store: TimeSeriesStore;
  log: Logger;
  clock?: Clock;
  /** Meters with their certificates (from the site file); absent: every point counts as having no meter. */
  catalogue?: MeterCatalogue;
}

/** Per-device state for status output and tests. */
export interface DeviceStatus {
  mn: string;
  connected: boolean;
  /** Acknowledged messages per CN. */
  acked: Record<string, number>;
  /** Next interval start per CN (ISO), as persisted. */
  cursor: Record<string, string>;
  counters: LinkCounters;
  lastError?: string;
}

interface IntervalKind {
  cn: DataCn;
  /** Start of the interval containing `t`. */
  align(t: number): number;
  /** Start of the interval after the one starting at `start`. */
  next(start: number): number;
  /** Bucket size asked from the store. */
  bucketMs: number;
}

/** The interval kinds enabled in a config, in a fixed order. */
function kindsOf(loaded: LoadedUplink): IntervalKind[] {
  const c = loaded.config.commands;
  const out: IntervalKind[] = [];
  if (c.minute.enabled) {
    const step = c.minute.intervalMin * MINUTE;
    out.push({
      cn: CN.minute,
      align: (t) => Math.floor(t / step) * step,
      next: (s) => s + step,
      bucketMs: step,
    });
  }
  if (c.hour.enabled)
    out.push({
      cn: CN.hour,
      align: (t) => Math.floor(t / HOUR) * HOUR,
      next: (s) => s + HOUR,
      bucketMs: HOUR,
    });
  if (c.day.enabled)
    out.push({
      cn: CN.day,
      align: (t) => Math.floor((t + CST) / DAY) * DAY - CST,
      next: (s) => s + DAY,
      bucketMs: HOUR,
    });
  return out;
}

interface Pending {
  cn: DataCn;
  start: number;
  end: number;
  qn: string;
  frames: string[];
}

/**
 * The HJ 212 uplink of one unit. The constructor does no I/O; `start()` loads the cursor file and
 * starts one sender per device; `stop()` lets each finish the message in flight, then closes.
 */
export class Hj212Uplink {
  readonly #o: UplinkOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #cursor: CursorFile;
  /** First interval start per `${mn}|${cn}` when there was no cursor and no `startFrom`. */
  readonly #firstStart = new Map<string, number>();
  readonly #kinds: IntervalKind[];
  readonly #abort = new AbortController();
  readonly #status = new Map<string, DeviceStatus>();
  #loops: Promise<void>[] = [];
  #lastQn = '';

  constructor(options: UplinkOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log.child({ module: 'uplink:hj212' });
    this.#cursor = new CursorFile(options.loaded.cursorFile);
    this.#kinds = kindsOf(options.loaded);
  }

  /**
   * Loads the cursor and starts sending.
   * @throws MrvError `MRV_E_CONFIG` for an unreadable cursor file or a device without a password
   */
  async start(): Promise<void> {
    this.#cursor.load();
    const { config } = this.#o.loaded;
    for (const d of config.devices) {
      if (!this.#o.passwords.has(d.mn))
        throw new MrvError('MRV_E_CONFIG', `no password for MN ${d.mn} (see resolvePasswords)`, { mn: d.mn });
      this.#status.set(d.mn, { mn: d.mn, connected: false, acked: {}, cursor: {}, counters: newCounters() });
    }
    this.#loops = config.devices.map((d) => this.#run(d));
    this.#log.info(
      {
        platform: `${config.platform.host}:${config.platform.port}`,
        devices: config.devices.length,
        protocol: config.protocol,
      },
      'HJ 212 uplink started',
    );
  }

  /** Finishes the message in flight of each device, then closes every connection. */
  async stop(): Promise<void> {
    this.#abort.abort(new Error('stopped'));
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  /** A snapshot of each device's state. */
  status(): DeviceStatus[] {
    return [...this.#status.values()].map((s) => ({
      ...s,
      acked: { ...s.acked },
      counters: { ...s.counters },
      cursor: Object.fromEntries(
        this.#kinds.flatMap((k) => {
          const v = this.#cursor.get(s.mn, k.cn);
          return v === undefined ? [] : [[k.cn, new Date(v).toISOString()]];
        }),
      ),
    }));
  }

  /** A QN unique within this process, increasing, from the clock (UTC+8, ms). */
  #qn(): string {
    let qn = qnOf(this.#clock.now());
    if (qn <= this.#lastQn) qn = (BigInt(this.#lastQn) + 1n).toString();
    this.#lastQn = qn;
    return qn;
  }

  /**
   * Next interval start per CN: the cursor, else `startFrom`, else the interval that contained "now"
   * when it was first asked for. That first start is remembered: were it recomputed from a moving
   * clock, the interval would always be the current one, never finished, and nothing would be sent
   * until some cursor existed.
   */
  #nextStart(mn: string, kind: IntervalKind): number {
    const c = this.#cursor.get(mn, kind.cn);
    if (c !== undefined) return c;
    const key = `${mn}|${kind.cn}`;
    let first = this.#firstStart.get(key);
    if (first === undefined) {
      const from = this.#o.loaded.config.startFrom;
      first = kind.align(from !== undefined ? Date.parse(from) : this.#clock.now());
      this.#firstStart.set(key, first);
    }
    return first;
  }

  /** The due interval whose end is earliest, or the time the next one becomes due. */
  #nextJob(mn: string): { kind: IntervalKind; start: number; end: number } | { wakeAt: number } {
    const settle = this.#o.loaded.config.settleMs;
    let best: { kind: IntervalKind; start: number; end: number } | undefined;
    for (const kind of this.#kinds) {
      const start = this.#nextStart(mn, kind);
      const end = kind.next(start);
      if (best === undefined || end < best.end) best = { kind, start, end };
    }
    if (best === undefined) return { wakeAt: Number.POSITIVE_INFINITY };
    return best.end + settle <= this.#clock.now() ? best : { wakeAt: best.end + settle };
  }

  async #run(device: UplinkDevice): Promise<void> {
    const { config } = this.#o.loaded;
    const st = this.#status.get(device.mn)!;
    const signal = this.#abort.signal;
    let link: Hj212Link | undefined;
    let pending: Pending | undefined;
    let delay = config.reconnectDelayMs;
    const rt = config.commands.realtime;
    let nextRealtime = rt.enabled ? this.#clock.now() : Number.POSITIVE_INFINITY;
    while (!signal.aborted) {
      try {
        if (!link?.open) {
          st.connected = false;
          link = await openLink({
            host: config.platform.host,
            port: config.platform.port,
            mn: device.mn,
            ackTimeoutMs: config.ackTimeoutMs,
            retries: config.retries,
            log: this.#log,
            counters: st.counters,
          });
          st.connected = true;
          this.#log.info({ mn: device.mn }, 'connected to the HJ 212 platform');
        }
        const job = this.#nextJob(device.mn);
        if ('kind' in job) {
          if (pending === undefined || pending.cn !== job.kind.cn || pending.start !== job.start) {
            const msg = await this.#intervalMessage(device, job.kind, job.start, job.end);
            const qn = this.#qn();
            pending = {
              cn: job.kind.cn,
              start: job.start,
              end: job.end,
              qn,
              frames: this.#frames(device, msg, qn, true),
            };
          }
          for (const f of pending.frames) {
            if (this.#log.isLevelEnabled('debug'))
              this.#log.debug(
                { mn: device.mn, frame: f.replace(/PW=[^;]*/, 'PW=******').trimEnd() },
                'HJ 212 send',
              );
            await link.send(f, pending.qn);
          }
          this.#cursor.set(device.mn, pending.cn, pending.end);
          st.acked[pending.cn] = (st.acked[pending.cn] ?? 0) + 1;
          delete st.lastError;
          pending = undefined;
          delay = config.reconnectDelayMs;
          continue;
        }
        const now = this.#clock.now();
        if (now >= nextRealtime) {
          await this.#sendRealtime(device, link, now);
          nextRealtime = now + rt.intervalS * 1000;
          continue;
        }
        // Wake for the next due interval or real-time tick; at least every 5 s to notice a dropped link.
        const wait = Math.max(10, Math.min(job.wakeAt, nextRealtime) - now, 0);
        await this.#clock.sleep(Math.min(wait, 5000), signal).catch(() => undefined);
      } catch (err) {
        st.lastError = (err as Error).message;
        st.connected = false;
        link?.close();
        link = undefined;
        if (signal.aborted) break;
        this.#log.warn(
          { mn: device.mn, err: st.lastError, retryInMs: delay },
          'HJ 212 uplink interrupted; will retry',
        );
        await this.#clock.sleep(delay, signal).catch(() => undefined);
        delay = Math.min(delay * 2, config.maxReconnectDelayMs);
      }
    }
    link?.close();
    st.connected = false;
  }

  #frames(device: UplinkDevice, msg: DataMessage, qn: string, ack: boolean): string[] {
    const { loaded } = this.#o;
    return encodeDataMessage(
      {
        qn,
        st: loaded.config.st,
        pw: this.#o.passwords.get(device.mn)!,
        mn: device.mn,
        flag: flagOf(loaded.versionBits, { ack }),
      },
      msg,
      loaded.config.maxSegment,
    );
  }

  async #sendRealtime(device: UplinkDevice, link: Hj212Link, now: number): Promise<void> {
    const { config } = this.#o.loaded;
    const points = (await this.#o.store.listPoints(config.unit)) ?? [];
    const byId = new Map(points.map((p) => [p.id, p]));
    const staleMs = 3 * config.commands.realtime.intervalS * 1000;
    const values: CodeValues[] = device.points.map((p) => {
      const last = byId.get(p.point)?.last ?? null;
      if (last === null || now - Date.parse(last.ts) > staleMs) return { code: p.code, flag: 'B' };
      const t = Date.parse(last.ts);
      const over =
        last.value !== null && p.upperLimit !== undefined && new Decimal(last.value).gt(p.upperLimit);
      const flag = this.#flag(p, last.quality, undefined, t, t + 1, over);
      return last.value === null ? { code: p.code, flag } : { code: p.code, rtd: round(last.value, p), flag };
    });
    for (const f of this.#frames(device, { cn: CN.realtime, dataTime: now, values }, this.#qn(), false))
      await link.send(f);
  }

  /** One interval's message: for each point, Avg/Min/Max (and Cou) of good readings and a data flag. */
  async #intervalMessage(
    device: UplinkDevice,
    kind: IntervalKind,
    start: number,
    end: number,
  ): Promise<DataMessage> {
    const values: CodeValues[] = [];
    for (const p of device.points) values.push(await this.#intervalValues(p, kind, start, end));
    return { cn: kind.cn, dataTime: start, values };
  }

  async #intervalValues(p: UplinkPoint, kind: IntervalKind, start: number, end: number): Promise<CodeValues> {
    const { store, loaded } = this.#o;
    const unitId = loaded.config.unit;
    const step = kind.bucketMs;
    const buckets = await store.series({
      unitId,
      pointId: p.point,
      from: p.cou === 'delta' ? start - step : start,
      to: end,
      stepMs: step,
    });
    const inside = buckets.filter((b) => Date.parse(b.ts) >= start && b.count > 0 && b.value !== null);
    if (inside.length === 0) {
      // No good reading: the flag says why (a bad reading's reason, or nothing received at all).
      const [first] = await store.series({ unitId, pointId: p.point, from: start, to: end, limit: 1 });
      // Only bad or uncertain readings here (good ones would have made a bucket); either way no value.
      const reason =
        (first as (SeriesPoint & { reason?: string }) | undefined)?.reason ?? `quality ${first?.quality}`;
      return {
        code: p.code,
        flag: this.#flag(p, first === undefined ? 'none' : 'bad', reason, start, end, false),
      };
    }
    const agg = combine(inside);
    const over = p.upperLimit !== undefined && agg.max.gt(p.upperLimit);
    const v: CodeValues = {
      code: p.code,
      min: round(agg.min.toString(), p),
      avg: round(agg.avg.toString(), p),
      max: round(agg.max.toString(), p),
      flag: this.#flag(p, 'good', undefined, start, end, over),
    };
    if (p.cou === 'delta') {
      const prev = buckets.find((b) => Date.parse(b.ts) === start - step && b.max !== null);
      if (prev?.max != null) {
        const delta = agg.max.minus(prev.max);
        if (delta.gte(0)) v.cou = round(delta.toString(), p);
      }
    }
    return v;
  }

  #flag(
    p: UplinkPoint,
    quality: 'good' | 'uncertain' | 'bad' | 'none',
    reason: string | undefined,
    start: number,
    end: number,
    overLimit: boolean,
  ): DataFlag {
    const { config } = this.#o.loaded;
    const window = config.windows.find(
      (w) =>
        Date.parse(w.from) < end &&
        Date.parse(w.to) > start &&
        (w.points === undefined || w.points.includes(p.point)),
    );
    return deriveDataFlag({
      quality,
      reason,
      calibration: this.#calibration(p.point, start),
      window: window?.kind,
      overLimit,
      calibrationLapsedFlag: config.calibrationLapsedFlag,
    });
  }

  #calibration(pointId: string, at: number): MeterCalibrationState {
    const cat = this.#o.catalogue;
    const meterId = cat?.pointMeter.get(pointId);
    if (cat === undefined || meterId === undefined) return 'none';
    return calibrationStatus(
      cat.meters.find((m) => m.id === meterId),
      at,
    ).status;
  }
}

/** Count-weighted mean, min and max of buckets (decimal arithmetic on the store's bucket values). */
function combine(buckets: SeriesPoint[]): { avg: Decimal; min: Decimal; max: Decimal } {
  let sum = new Decimal(0);
  let count = 0;
  let min: Decimal | undefined;
  let max: Decimal | undefined;
  for (const b of buckets) {
    sum = sum.plus(new Decimal(b.value!).times(b.count));
    count += b.count;
    const lo = new Decimal(b.min ?? b.value!);
    const hi = new Decimal(b.max ?? b.value!);
    min = min === undefined || lo.lt(min) ? lo : min;
    max = max === undefined || hi.gt(max) ? hi : max;
  }
  return { avg: sum.div(count), min: min!, max: max! };
}

/** A value as sent: rounded half-even to the point's `decimals` when set, else as the store gave it. */
function round(value: string, p: UplinkPoint): string {
  if (p.decimals === undefined) {
    // Decimal division may give long fractions: keep 6 significant decimals past the integer part at most.
    const d = new Decimal(value);
    return d.decimalPlaces() > 6 ? d.toDecimalPlaces(6, Decimal.ROUND_HALF_EVEN).toFixed() : d.toFixed();
  }
  return new Decimal(value).toDecimalPlaces(p.decimals, Decimal.ROUND_HALF_EVEN).toFixed(p.decimals);
}
