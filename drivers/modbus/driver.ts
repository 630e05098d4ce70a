/**
 * The Modbus device poller shared by the `modbus-tcp`, `modbus-rtu` and `modbus-rtu-over-tcp`
 * drivers: they differ only in the {@link LinkSpec} they connect with. Points are coalesced into as
 * few requests as the device allows (plan.ts), read over a link (link.ts) and decoded purely
 * (decode.ts). Every failure becomes a `bad` reading with a stable reason code; an old value is never
 * repeated as if it were fresh.
 */
import type { Reading } from '../../core/schema/wire.ts';
import { isoMs } from '../../core/time.ts';
import type { Driver, DriverContext, DriverStatus, ReadingSink } from '../types.ts';
import type { ModbusDevice, ModbusPoint } from './config.ts';
import { decodePoint } from './decode.ts';
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

/**
 * A Modbus device poller. `start` runs one loop per poll group (points sharing an interval); each
 * group cycle reads the group's requests and hands one batch (every point of the group, good or bad)
 * to the sink.
 */
export class ModbusDriver implements Driver {
  readonly #groups: PollGroup[];
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
    this.#loops = this.#groups.map((g) => this.#run(g, sink, abort.signal));
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
    while (!signal.aborted) {
      const cycleStart = clock.now();
      const readings = await this.#poll(group.requests, signal);
      if (signal.aborted) break;
      try {
        sink(readings);
      } catch (err) {
        log.error({ err, device: this.config.id }, 'reading sink failed');
      }
      const wait = Math.max(0, cycleStart + group.intervalMs - clock.now());
      try {
        await clock.sleep(wait, signal);
      } catch {
        break;
      }
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
