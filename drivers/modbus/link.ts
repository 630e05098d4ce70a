/**
 * Modbus links: the connection a device is read over (a TCP socket, a serial port, or a TCP socket
 * carrying RTU frames), with reconnect backoff and a lock. All I/O of the Modbus drivers goes through
 * here; decoding stays in decode.ts.
 *
 * RTU framing has no transaction id (Modbus over Serial Line V1.02 §2.1: one master, one request at a
 * time), so every device on one serial port, or behind one serial-to-Ethernet converter, must share
 * one port object and wait for the bus: {@link acquireLink} hands out one {@link ModbusLink} per
 * port (process-wide, reference-counted), and {@link ModbusLink.read} holds the link's lock for one
 * request and its answer. Modbus TCP links are per device (each device has its own connection).
 */
import ModbusRTU from 'modbus-serial';
import type { Logger } from 'pino';
import { type ErrorCode, MrvError } from '../../core/errors.ts';
import type { Clock } from '../../core/time.ts';
import type { ModbusTable } from './config.ts';

type Client = InstanceType<typeof ModbusRTU.default>;

/** Longest wait between reconnect attempts. */
const MAX_BACKOFF_MS = 30_000;

/** Where and how to connect. */
export type LinkSpec =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu-over-tcp'; host: string; port: number }
  | {
      kind: 'rtu';
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits: 7 | 8;
      stopBits: 1 | 2;
    };

/** Human-readable endpoint, e.g. `127.0.0.1:502`, `/dev/ttyUSB0 9600 8E1`. */
export function describeLink(spec: LinkSpec): string {
  if (spec.kind !== 'rtu')
    return `${spec.host}:${spec.port}${spec.kind === 'rtu-over-tcp' ? ' (RTU over TCP)' : ''}`;
  return `${spec.path} ${spec.baudRate} ${spec.dataBits}${spec.parity[0]?.toUpperCase()}${spec.stopBits}`;
}

/** An error of the catalogue with its message, as a read result carries it. */
export interface LinkError {
  code: ErrorCode;
  message: string;
}

/** Result of one read: the response's data bytes (registers big-endian, or packed bits) or an error. */
export type ReadResult = { ok: true; bytes: Uint8Array; at: number } | { ok: false; error: LinkError };

/**
 * Maps a modbus-serial or socket error onto our error catalogue.
 * @param framing `tcp` (MBAP): a timeout suggests a dead connection, so reconnect; `rtu`: a timeout
 *   means that slave is silent while the port is fine, so do not reconnect (the other slaves on the bus
 *   would suffer)
 */
export function classifyModbusError(
  err: unknown,
  framing: 'tcp' | 'rtu' = 'tcp',
): LinkError & { retryable: boolean; reconnect: boolean } {
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
      reconnect: framing === 'tcp',
    };
  // A CRC error or a garbled answer on a serial line: the next attempt may be clean.
  if (framing === 'rtu' && /CRC|Data length error|Unexpected data/i.test(e.message ?? ''))
    return { code: 'MRV_E_DECODE', message: e.message ?? 'bad frame', retryable: true, reconnect: false };
  return {
    code: 'MRV_E_DEVICE_UNREACHABLE',
    message: [e.code ?? e.errno, e.message].filter(Boolean).join(' ') || String(err),
    retryable: false,
    reconnect: true,
  };
}

/** Per-read parameters: whom to ask, how long to wait, how often to retry. */
export interface ReadOptions {
  unitId: number;
  timeoutMs: number;
  retries: number;
}

/**
 * One connection shared by the devices on it. Connects lazily on the first read, backs off
 * exponentially after failures (reconnectDelayMs doubling to 30 s) and serialises requests with a lock.
 */
export class ModbusLink {
  readonly framing: 'tcp' | 'rtu';
  #client: Client | undefined;
  #nextConnectAt = 0;
  #backoffMs: number;
  #lastError: string | undefined;
  #lock: Promise<void> = Promise.resolve();
  #closed = false;
  /** Requests waiting for or holding the lock (for tests and status). */
  queued = 0;

  constructor(
    readonly spec: LinkSpec,
    private readonly opts: { clock: Clock; log: Logger; reconnectDelayMs: number; connectTimeoutMs: number },
  ) {
    this.framing = spec.kind === 'tcp' ? 'tcp' : 'rtu';
    this.#backoffMs = opts.reconnectDelayMs;
  }

  /** True while the port or socket is open. */
  get connected(): boolean {
    return this.#client?.isOpen === true;
  }

  /**
   * Reads `count` registers or bits of `table` from `unitId`, retrying up to `retries` times on a
   * timeout, under the link's lock (one request on the wire at a time).
   * @returns the data bytes as received, or an error whose message names the request
   */
  async read(table: ModbusTable, address: number, count: number, o: ReadOptions): Promise<ReadResult> {
    const where = `${table} ${address}+${count}`;
    let last: ReturnType<typeof classifyModbusError> | undefined;
    for (let attempt = 0; attempt <= o.retries; attempt++) {
      const r = await this.#locked(async () => {
        const connected = await this.#ensureConnected();
        if (!connected.ok) return connected;
        const client = this.#client as Client;
        client.setID(o.unitId);
        client.setTimeout(o.timeoutMs);
        try {
          const res = await request(client, table, address, count);
          return { ok: true as const, bytes: res.buffer, at: this.opts.clock.now() };
        } catch (err) {
          const c = classifyModbusError(err, this.framing);
          // Reconnect only once the retries are spent: a retry goes over the same connection.
          if (c.reconnect && (!c.retryable || attempt === o.retries)) {
            this.#disconnect();
            this.#scheduleReconnect(c.message);
          }
          return { ok: false as const, c };
        }
      });
      if (r.ok) {
        const need = table === 'coil' || table === 'discrete' ? Math.ceil(count / 8) : count * 2;
        if (r.bytes.length < need)
          return {
            ok: false,
            error: { code: 'MRV_E_DECODE', message: `${where}: short response: ${r.bytes.length} bytes` },
          };
        return r;
      }
      if ('error' in r) return { ok: false, error: { code: r.error.code, message: r.error.message } };
      last = r.c;
      if (!last.retryable) break;
    }
    const c = last as NonNullable<typeof last>;
    return { ok: false, error: { code: c.code, message: `${where}: ${c.message}` } };
  }

  /** Closes the connection; later reads fail as unreachable. */
  close(): void {
    this.#closed = true;
    this.#disconnect();
  }

  /** Runs `fn` when every earlier holder of the lock has finished. */
  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    const previous = this.#lock;
    let release: () => void = () => {};
    this.#lock = new Promise<void>((r) => {
      release = r;
    });
    try {
      await previous;
      return await fn();
    } finally {
      this.queued--;
      release();
    }
  }

  async #ensureConnected(): Promise<{ ok: true } | { ok: false; error: LinkError }> {
    if (this.#client?.isOpen) return { ok: true };
    const where = describeLink(this.spec);
    if (this.#closed)
      return { ok: false, error: { code: 'MRV_E_DEVICE_UNREACHABLE', message: `${where}: link closed` } };
    const now = this.opts.clock.now();
    if (now < this.#nextConnectAt)
      return {
        ok: false,
        error: {
          code: 'MRV_E_DEVICE_UNREACHABLE',
          message: `not connected to ${where}; next attempt in ${this.#nextConnectAt - now} ms${this.#lastError ? ` (last error ${this.#lastError})` : ''}`,
        },
      };
    await this.#connect();
    if (this.#client?.isOpen) return { ok: true };
    return {
      ok: false,
      error: {
        code: 'MRV_E_DEVICE_UNREACHABLE',
        message: `${where}: ${this.#lastError ?? 'connection failed'}`,
      },
    };
  }

  async #connect(): Promise<void> {
    const { spec } = this;
    const { log, connectTimeoutMs } = this.opts;
    this.#disconnect();
    const client = new ModbusRTU.default();
    // modbus-serial emits 'error' on socket errors; without a listener Node would crash the process.
    client.on('error', (err: unknown) => log.debug({ err, link: describeLink(spec) }, 'modbus link error'));
    this.#client = client;
    try {
      const connecting =
        spec.kind === 'tcp'
          ? client.connectTCP(spec.host, { port: spec.port, timeout: connectTimeoutMs })
          : spec.kind === 'rtu-over-tcp'
            ? // modbus-serial's TelnetPort writes raw RTU frames (with CRC) to the socket; its
              // connectTcpRTUBuffered, despite the name, sends MBAP (Modbus TCP) frames.
              client.connectTelnet(spec.host, { port: spec.port, timeout: connectTimeoutMs })
            : client.connectRTUBuffered(spec.path, {
                baudRate: spec.baudRate,
                parity: spec.parity,
                dataBits: spec.dataBits,
                stopBits: spec.stopBits,
              });
      await withTimeout(connecting, connectTimeoutMs, 'connect');
      this.#backoffMs = this.opts.reconnectDelayMs;
      this.#lastError = undefined;
      log.info({ link: describeLink(spec) }, 'modbus link connected');
    } catch (err) {
      const c = classifyModbusError(err);
      this.#scheduleReconnect(c.message);
      log.warn(
        { link: describeLink(spec), err: c.message, retryInMs: this.#backoffMs },
        'modbus connect failed',
      );
      this.#disconnect();
    }
  }

  #scheduleReconnect(reason: string): void {
    this.#lastError = reason;
    this.#nextConnectAt = this.opts.clock.now() + this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
  }

  #disconnect(): void {
    const client = this.#client;
    this.#client = undefined;
    if (client?.isOpen) client.close(() => {});
    else if (client) {
      // A serial port that failed to open, or a socket still connecting: destroy what there is.
      client.close(() => {});
    }
  }
}

/** Sends the read of one table (function codes 1–4). */
function request(
  client: Client,
  table: ModbusTable,
  address: number,
  count: number,
): Promise<{ buffer: Buffer }> {
  switch (table) {
    case 'coil':
      return client.readCoils(address, count);
    case 'discrete':
      return client.readDiscreteInputs(address, count);
    case 'holding':
      return client.readHoldingRegisters(address, count);
    case 'input':
      return client.readInputRegisters(address, count);
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

/** Shared links by port, with their users. */
const pool = new Map<string, { link: ModbusLink; users: number; settings: string }>();

/** Pool key: serial path or RTU-over-TCP endpoint; TCP links are never shared (`owner` makes them unique). */
function poolKey(spec: LinkSpec, owner: string): string {
  if (spec.kind === 'rtu') return `rtu:${spec.path}`;
  if (spec.kind === 'rtu-over-tcp') return `rtu-over-tcp:${spec.host}:${spec.port}`;
  return `tcp:${spec.host}:${spec.port}#${owner}`;
}

/**
 * Takes a link for a device: the shared one of its serial port / RTU-over-TCP endpoint, or a new TCP
 * link. Call {@link releaseLink} when the device stops; the last user closes the port.
 * @param owner the device id (makes TCP links private to the device)
 * @throws MrvError MRV_E_CONFIG when another device already uses the same serial port with other
 *   line settings
 */
export function acquireLink(
  spec: LinkSpec,
  owner: string,
  opts: { clock: Clock; log: Logger; reconnectDelayMs: number; connectTimeoutMs: number },
): ModbusLink {
  const key = poolKey(spec, owner);
  const settings = JSON.stringify(spec);
  const entry = pool.get(key);
  if (entry) {
    if (entry.settings !== settings)
      throw new MrvError(
        'MRV_E_CONFIG',
        `device ${owner}: ${describeLink(spec)} differs from ${describeLink(entry.link.spec)} already used on the same port; devices on one port must use the same line settings`,
      );
    entry.users++;
    return entry.link;
  }
  const link = new ModbusLink(spec, opts);
  pool.set(key, { link, users: 1, settings });
  return link;
}

/** Gives a link back; closes it when its last user is gone. */
export function releaseLink(link: ModbusLink): void {
  for (const [key, entry] of pool)
    if (entry.link === link) {
      entry.users--;
      if (entry.users <= 0) {
        pool.delete(key);
        link.close();
      }
      return;
    }
}
