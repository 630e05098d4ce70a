/**
 * The `modbus-tcp` driver: polls holding and input registers over Modbus TCP with modbus-serial,
 * coalescing points into as few requests as the device allows, and turns every failure into a `bad`
 * reading with a stable reason code. It never repeats an old value as if it were fresh.
 */
import ModbusRTU from 'modbus-serial';
import type { ErrorCode } from '../../core/errors.ts';
import type { Reading } from '../../core/schema/wire.ts';
import { isoMs } from '../../core/time.ts';
import type { Driver, DriverContext, DriverKind, DriverStatus, ReadingSink } from '../types.ts';
import { ModbusTcpDevice } from './config.ts';
import { applyScaling, decodeRaw } from './decode.ts';
import { planRequests, type ReadRequest } from './plan.ts';

type Client = InstanceType<typeof ModbusRTU.default>;

/** Longest wait between reconnect attempts. */
const MAX_BACKOFF_MS = 30_000;

/** Maps a modbus-serial or socket error onto our error catalogue. */
export function classifyModbusError(err: unknown): {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  reconnect: boolean;
} {
  const e = err as { name?: string; message?: string; errno?: string; code?: string; modbusCode?: number };
  if (typeof e.modbusCode === 'number')
    return {
      code: 'MRV_E_MODBUS_EXCEPTION',
      message: e.message ?? `exception ${e.modbusCode}`,
      retryable: false,
      reconnect: false,
    };
  if (e.name === 'TransactionTimedOutError' || e.errno === 'ETIMEDOUT')
    return {
      code: 'MRV_E_MODBUS_TIMEOUT',
      message: 'no answer within the timeout',
      retryable: true,
      reconnect: true,
    };
  return {
    code: 'MRV_E_DEVICE_UNREACHABLE',
    message: [e.code ?? e.errno, e.message].filter(Boolean).join(' ') || String(err),
    retryable: false,
    reconnect: true,
  };
}

/** A Modbus TCP device poller. Create with {@link modbusTcpDriver}`.create`. */
export class ModbusTcpDriver implements Driver {
  readonly #requests: ReadRequest[];
  #client: Client | undefined;
  #connecting: Promise<void> | undefined;
  #nextConnectAt = 0;
  #backoffMs: number;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #status: DriverStatus = { connected: false, cycles: 0, failedRequests: 0 };

  constructor(
    readonly config: ModbusTcpDevice,
    private readonly ctx: DriverContext,
  ) {
    this.#requests = planRequests(config.points, config.maxRegistersPerRequest, config.maxGap);
    this.#backoffMs = config.reconnectDelayMs;
  }

  /** The planned read requests (for status pages and tests). */
  get requests(): readonly ReadRequest[] {
    return this.#requests;
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.#loop) throw new Error(`device ${this.config.id}: already started`);
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(sink, abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort?.abort(new Error('stopped'));
    await this.#loop;
    this.#loop = undefined;
    this.#disconnect();
  }

  status(): DriverStatus {
    return { ...this.#status };
  }

  /** Runs one poll cycle now and returns one reading per configured point. */
  async pollOnce(): Promise<Reading[]> {
    const readings: Reading[] = [];
    let failure: { code: ErrorCode; message: string } | undefined;
    for (const req of this.#requests) {
      if (!failure) {
        const connected = await this.#ensureConnected();
        if (!connected.ok) failure = connected.error;
      }
      if (failure) {
        this.#pushBad(readings, req, failure.code, failure.message);
        continue;
      }
      const result = await this.#read(req);
      if (result.ok) this.#decodeInto(readings, req, result.bytes, result.at);
      else {
        this.#status.failedRequests++;
        this.#status.lastError = `${result.error.code}: ${result.error.message}`;
        this.#pushBad(readings, req, result.error.code, result.error.message);
        // After a lost connection every later request of this cycle would fail the same way.
        if (result.error.code === 'MRV_E_DEVICE_UNREACHABLE') failure = result.error;
      }
    }
    this.#status.cycles++;
    if (!readings.some((r) => r.quality === 'bad')) delete this.#status.lastError;
    return readings;
  }

  async #run(sink: ReadingSink, signal: AbortSignal): Promise<void> {
    const { clock, log } = this.ctx;
    while (!signal.aborted) {
      const cycleStart = clock.now();
      const readings = await this.pollOnce();
      if (signal.aborted) break;
      try {
        sink(readings);
      } catch (err) {
        log.error({ err, device: this.config.id }, 'reading sink failed');
      }
      const wait = Math.max(0, cycleStart + this.config.pollIntervalMs - clock.now());
      try {
        await clock.sleep(wait, signal);
      } catch {
        break;
      }
    }
  }

  async #ensureConnected(): Promise<
    { ok: true } | { ok: false; error: { code: ErrorCode; message: string } }
  > {
    if (this.#client?.isOpen) return { ok: true };
    const now = this.ctx.clock.now();
    if (now < this.#nextConnectAt)
      return {
        ok: false,
        error: {
          code: 'MRV_E_DEVICE_UNREACHABLE',
          message: `not connected to ${this.config.host}:${this.config.port}; next attempt in ${this.#nextConnectAt - now} ms${this.#status.lastError ? ` (last error ${this.#status.lastError})` : ''}`,
        },
      };
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    await this.#connecting;
    if (this.#client?.isOpen) return { ok: true };
    return {
      ok: false,
      error: { code: 'MRV_E_DEVICE_UNREACHABLE', message: this.#status.lastError ?? 'connection failed' },
    };
  }

  async #connect(): Promise<void> {
    const { host, port, unitId, timeoutMs, id } = this.config;
    this.#disconnect();
    const client = new ModbusRTU.default();
    // modbus-serial emits 'error' on socket errors; without a listener Node would crash the process.
    client.on('error', (err: unknown) => this.ctx.log.debug({ err, device: id }, 'modbus socket error'));
    client.on('close', () => {
      if (this.#client === client) this.#status.connected = false;
    });
    this.#client = client;
    try {
      await withTimeout(client.connectTCP(host, { port, timeout: timeoutMs }), timeoutMs, 'connect');
      client.setID(unitId);
      client.setTimeout(timeoutMs);
      this.#status.connected = true;
      this.#backoffMs = this.config.reconnectDelayMs;
      this.ctx.log.info({ device: id, host, port, unitId }, 'modbus device connected');
    } catch (err) {
      const c = classifyModbusError(err);
      this.#status.lastError = `MRV_E_DEVICE_UNREACHABLE: ${c.message}`;
      this.#scheduleReconnect();
      this.ctx.log.warn(
        { device: id, host, port, err: c.message, retryInMs: this.#backoffMs },
        'modbus connect failed',
      );
      this.#disconnect();
    }
  }

  #scheduleReconnect(): void {
    this.#nextConnectAt = this.ctx.clock.now() + this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
  }

  #disconnect(): void {
    const client = this.#client;
    this.#client = undefined;
    this.#status.connected = false;
    if (client?.isOpen) client.close(() => {});
  }

  async #read(
    req: ReadRequest,
  ): Promise<
    { ok: true; bytes: Uint8Array; at: number } | { ok: false; error: { code: ErrorCode; message: string } }
  > {
    let last: ReturnType<typeof classifyModbusError> | undefined;
    for (let attempt = 0; attempt <= this.config.retries; attempt++) {
      const client = this.#client;
      if (!client?.isOpen) break;
      try {
        const res =
          req.table === 'holding'
            ? await client.readHoldingRegisters(req.address, req.count)
            : await client.readInputRegisters(req.address, req.count);
        const at = this.ctx.clock.now();
        if (res.buffer.length < req.count * 2)
          return {
            ok: false,
            error: { code: 'MRV_E_DECODE', message: `short response: ${res.buffer.length} bytes` },
          };
        return { ok: true, bytes: res.buffer, at };
      } catch (err) {
        last = classifyModbusError(err);
        if (!last.retryable) break;
      }
    }
    last ??= {
      code: 'MRV_E_DEVICE_UNREACHABLE',
      message: 'connection lost',
      retryable: false,
      reconnect: true,
    };
    if (last.reconnect) {
      this.#disconnect();
      this.#scheduleReconnect();
    }
    const where = `${req.table} ${req.address}+${req.count}`;
    return { ok: false, error: { code: last.code, message: `${where}: ${last.message}` } };
  }

  #decodeInto(out: Reading[], req: ReadRequest, bytes: Uint8Array, at: number): void {
    const ts = isoMs(at);
    for (const { point, byteOffset } of req.points) {
      try {
        const raw = decodeRaw(bytes, byteOffset, point.type, point.order);
        const value = applyScaling(raw, point);
        out.push({
          point: point.id,
          ...(point.meter ? { meter: point.meter } : {}),
          ts,
          rxTs: ts,
          value,
          quality: 'good',
        });
      } catch (err) {
        out.push({
          point: point.id,
          ...(point.meter ? { meter: point.meter } : {}),
          ts,
          rxTs: ts,
          value: null,
          quality: 'bad',
          reason: `MRV_E_DECODE: ${(err as Error).message}`,
        });
      }
    }
  }

  #pushBad(out: Reading[], req: ReadRequest, code: ErrorCode, message: string): void {
    const ts = isoMs(this.ctx.clock.now());
    for (const { point } of req.points)
      out.push({
        point: point.id,
        ...(point.meter ? { meter: point.meter } : {}),
        ts,
        rxTs: ts,
        value: null,
        quality: 'bad',
        reason: `${code}: ${message}`,
      });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The `modbus-tcp` driver kind for the registry. */
export const modbusTcpDriver: DriverKind<ModbusTcpDevice> = {
  name: 'modbus-tcp',
  schema: ModbusTcpDevice,
  create: (config, context) => new ModbusTcpDriver(config, context),
};
