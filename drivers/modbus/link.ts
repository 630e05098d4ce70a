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
import type { EventEmitter } from 'node:events';
import ModbusRTU from 'modbus-serial';
import type { Logger } from 'pino';
import { type ErrorCode, MrvError } from '../../core/errors.ts';
import type { Clock } from '../../core/time.ts';
import type { ModbusTable } from './config.ts';
import { AnswerTimes } from './rtu-guard.ts';
import { RtuFramePort } from './rtu-port.ts';

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
 *   means that slave is silent while the port is fine, so do not reconnect the port (the other slaves
 *   on the bus would suffer; the link drains the line instead)
 * @returns `retryable`: another attempt in the same cycle may succeed; `reconnect`: the connection is
 *   suspect (refused, reset, or an MBAP connection that stopped answering)
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
  // An answer that does not fit its request (CRC, length, unit id, function code): on RTU the next
  // attempt after a drain may be clean; on MBAP the transaction id keeps the connection in step.
  if (/CRC|Data length error|Unexpected data/i.test(e.message ?? ''))
    return {
      code: 'MRV_E_DECODE',
      message: `answer does not fit the request: ${e.message ?? 'bad frame'}`,
      retryable: true,
      reconnect: false,
    };
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
  /** Answer timeout of one attempt, ms; on RTU also the device's worst-case answer time for drains. */
  timeoutMs: number;
  retries: number;
  /** Aborts the read (a stopping driver): the result is then an error and the line is drained next time. */
  signal?: AbortSignal | undefined;
}

/** Link counters and state for status pages and metrics. */
export interface LinkStats {
  /** Connections opened. */
  connects: number;
  /** Drains of the RTU line (after a timeout, a rejected answer or stray bytes). */
  drains: number;
  /** Bytes discarded because they belonged to no pending request (RTU). */
  strayBytes: number;
}

/**
 * One connection shared by the devices on it. Connects lazily on the first read, backs off
 * exponentially after failed connects (reconnectDelayMs doubling to 30 s) and serialises requests
 * with a lock. On RTU framing the line is drained after every anomaly before the next request
 * (rtu-port.ts); sockets are destroyed, never half-closed.
 */
export class ModbusLink {
  readonly framing: 'tcp' | 'rtu';
  #client: Client | undefined;
  #port: RtuFramePort | undefined;
  #nextConnectAt = 0;
  #backoffMs: number;
  #lastError: string | undefined;
  #lock: Promise<void> = Promise.resolve();
  #closed = false;
  /** Aborts requests in flight when the link closes (modbus-serial's destroy() never settles them). */
  readonly #closing = new AbortController();
  /** Worst-case answer time (ms) owed by requests that went wrong since the last drain. */
  #owedMs = 0;
  /** An RTU-over-TCP link reconnected after a timeout: drain the new connection too (a converter may forward the late frame). */
  #drainAfterConnect = false;
  /**
   * RTU: the port was just opened and nothing proves the line quiet yet (a late answer to a request of
   * the port's previous user, or of a stopped driver, may still be in the serial buffer, on the pty or
   * in the converter): the first request waits for a drain, as after an anomaly, but is not counted in
   * {@link LinkStats.drains}.
   */
  #quietUnproven = false;
  /** RTU: the line's answer times (rtu-guard.ts), kept across reconnects of the port. */
  readonly #answers = new AnswerTimes();
  readonly stats: LinkStats = { connects: 0, drains: 0, strayBytes: 0 };
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
   * timeout or a rejected answer, under the link's lock (one request on the wire at a time).
   * An answer is returned only when it has the request's unit id, function code and byte count
   * (Modbus Application Protocol §6.1–6.4) and, on RTU, arrived on a line drained since any anomaly.
   * @returns the data bytes as received, or an error whose message names the request
   */
  async read(table: ModbusTable, address: number, count: number, o: ReadOptions): Promise<ReadResult> {
    const where = `${table} ${address}+${count}`;
    const need = table === 'coil' || table === 'discrete' ? Math.ceil(count / 8) : count * 2;
    let last: ReturnType<typeof classifyModbusError> | undefined;
    type Attempt =
      | { ok: true; bytes: Uint8Array; at: number }
      | { ok: false; error: LinkError }
      | { ok: false; c: ReturnType<typeof classifyModbusError> };
    for (let attempt = 0; attempt <= o.retries; attempt++) {
      const r = await this.#locked(async (): Promise<Attempt> => {
        if (o.signal?.aborted) return { ok: false as const, error: stopped(where) };
        const connected = await this.#ensureConnected();
        if (!connected.ok) return connected;
        const drained = await this.#drainIfNeeded(o);
        if (!drained.ok) return drained;
        const client = this.#client as Client;
        client.setID(o.unitId);
        const port = this.#port;
        // RTU: the port times the answer out (after one more poll for input, rtu-port.ts); modbus-serial's
        // timer, which would fire before an answer that waited in the kernel while the loop was busy is
        // read, is a backstop.
        client.setTimeout(port ? 2 * o.timeoutMs + RTU_BACKSTOP_MS : o.timeoutMs);
        port?.setAnswerTimeout(o.timeoutMs);
        try {
          const res = await abortable(
            port
              ? answeredInTime(port, () => request(client, table, address, count))
              : request(client, table, address, count),
            [o.signal, this.#closing.signal],
          );
          if (res.buffer.length !== need) {
            // modbus-serial checked the frame length; a byte count that disagrees is a device fault.
            this.#port?.markDesync(true);
            this.#owedMs = Math.max(this.#owedMs, o.timeoutMs);
            return {
              ok: false as const,
              c: {
                code: 'MRV_E_DECODE' as const,
                message: `answer does not fit the request: byte count ${res.buffer.length}, expected ${need}`,
                retryable: true,
                reconnect: false,
              },
            };
          }
          return { ok: true as const, bytes: res.buffer, at: this.opts.clock.now() };
        } catch (err) {
          if (o.signal?.aborted || this.#closed) {
            this.#afterAbort(o);
            return { ok: false as const, error: stopped(where) };
          }
          const c = classifyModbusError(err, this.framing);
          this.#afterError(c, o, attempt);
          return { ok: false as const, c };
        }
      });
      if (r.ok) return r;
      if ('error' in r) return { ok: false, error: { code: r.error.code, message: r.error.message } };
      last = r.c;
      if (!last.retryable) break;
    }
    const c = last as NonNullable<typeof last>;
    return { ok: false, error: { code: c.code, message: `${where}: ${c.message}` } };
  }

  /** After a failed attempt: mark the RTU line for draining, drop a suspect connection. */
  #afterError(c: ReturnType<typeof classifyModbusError>, o: ReadOptions, attempt: number): void {
    if (this.framing === 'rtu' && c.code !== 'MRV_E_MODBUS_EXCEPTION') {
      // A timed-out request may still be answered; a rejected answer may have company on the line.
      this.#port?.markDesync(c.code !== 'MRV_E_MODBUS_TIMEOUT');
      this.#owedMs = Math.max(this.#owedMs, o.timeoutMs);
      if (this.spec.kind === 'rtu-over-tcp' && c.code === 'MRV_E_MODBUS_TIMEOUT') {
        // A fresh connection leaves the late frame on the old socket; drain the new one as well.
        this.#disconnect();
        this.#drainAfterConnect = true;
        return;
      }
    }
    if (c.code === 'MRV_E_MODBUS_TIMEOUT' && this.framing === 'tcp') {
      // Reconnect only once the retries are spent (a retry goes over the same connection), and at
      // once (no backoff): the device accepted the connection, so it is a timeout, not unreachable.
      if (attempt === o.retries) this.#disconnect();
      return;
    }
    if (c.reconnect) {
      this.#disconnect();
      this.#scheduleReconnect(c.message);
    }
  }

  /** A request abandoned by a stopping driver is owed an answer like a timed-out one. */
  #afterAbort(o: ReadOptions): void {
    if (this.framing === 'rtu') {
      this.#port?.markDesync(false);
      this.#owedMs = Math.max(this.#owedMs, o.timeoutMs);
    } else this.#disconnect();
  }

  /**
   * RTU: before a request, discards input until the line has been silent for the inter-frame silence
   * plus the worst-case answer time owed by earlier requests that went wrong (or the request's own,
   * on a port just opened).
   */
  async #drainIfNeeded(o: ReadOptions): Promise<{ ok: true } | { ok: false; error: LinkError }> {
    const port = this.#port;
    const anomaly = port !== undefined && (port.needsDrain || this.#drainAfterConnect);
    if (!port || !(anomaly || this.#quietUnproven)) return { ok: true };
    const quietMs = port.minGuardMs + Math.max(this.#owedMs, o.timeoutMs);
    if (anomaly) this.stats.drains++;
    this.stats.strayBytes += port.strayBytes;
    const quiet = await port.drain(quietMs, Math.max(4 * quietMs, 10_000), o.signal);
    if (quiet) {
      this.#owedMs = 0;
      this.#drainAfterConnect = false;
      this.#quietUnproven = false;
      return { ok: true };
    }
    if (o.signal?.aborted) return { ok: false, error: stopped('drain') };
    if (!port.isOpen)
      return {
        ok: false,
        error: { code: 'MRV_E_DEVICE_UNREACHABLE', message: `${describeLink(this.spec)}: connection lost` },
      };
    if (this.spec.kind === 'rtu-over-tcp') {
      this.#disconnect();
      this.#drainAfterConnect = true;
    }
    return {
      ok: false,
      error: {
        code: 'MRV_E_DECODE',
        message: `${describeLink(this.spec)}: the line did not fall silent for ${quietMs} ms (bytes no request asked for)`,
      },
    };
  }

  /** Closes the connection (destroying the socket); later reads fail as unreachable. */
  close(): void {
    this.#closed = true;
    this.#closing.abort();
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
    let client: Client;
    let connecting: Promise<unknown>;
    if (spec.kind === 'tcp') {
      client = new ModbusRTU.default();
      connecting = client.connectTCP(spec.host, { port: spec.port, timeout: connectTimeoutMs });
    } else {
      // Our own port under modbus-serial's client: its RTU ports would take a late frame as the
      // next answer (rtu-port.ts).
      const port = new RtuFramePort(
        spec.kind === 'rtu' ? { ...spec, kind: 'serial' } : { kind: 'tcp', host: spec.host, port: spec.port },
        connectTimeoutMs,
        this.#answers,
      );
      this.#port = port;
      client = new ModbusRTU.default(port);
      connecting = new Promise<void>((resolve, reject) =>
        client.open((err: Error | null | undefined) => (err ? reject(err) : resolve())),
      );
    }
    // modbus-serial emits 'error' on socket errors; without a listener Node would crash the process.
    client.on('error', (err: unknown) => log.debug({ err, link: describeLink(spec) }, 'modbus link error'));
    this.#client = client;
    try {
      await withTimeout(connecting, connectTimeoutMs, 'connect');
      this.#backoffMs = this.opts.reconnectDelayMs;
      this.#lastError = undefined;
      this.stats.connects++;
      if (this.framing === 'rtu') this.#quietUnproven = true;
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

  /**
   * Drops the connection for good: modbus-serial's `close()` on TCP only half-closes (`socket.end()`),
   * which against a hung device leaves a FIN-WAIT-2 socket per reconnect and keeps the process alive;
   * `destroy()` closes the descriptor now. Pending transactions are cancelled by modbus-serial.
   */
  #disconnect(): void {
    const client = this.#client;
    this.#client = undefined;
    this.#port = undefined;
    if (!client) return;
    client.destroy(() => {});
    // TcpPort.destroy() leaves the socket's listeners; a late 'error' must not reach the process.
    const emitter = client as unknown as EventEmitter;
    emitter.removeAllListeners();
    emitter.on('error', () => {});
  }
}

/** modbus-serial's timer on RTU requests ends this long after twice the answer timeout (a backstop). */
const RTU_BACKSTOP_MS = 1000;

/**
 * Runs `send` (one modbus-serial request on `port`) and rejects as modbus-serial's timeout does
 * (`TransactionTimedOutError`) when the port reports the answer overdue (`answerTimeout`, rtu-port.ts).
 */
function answeredInTime<T>(port: RtuFramePort, send: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onTimeout = () =>
      reject(Object.assign(new Error('no answer within the timeout'), { name: 'TransactionTimedOutError' }));
    port.once('answerTimeout', onTimeout);
    send()
      .then(resolve, reject)
      .finally(() => port.off('answerTimeout', onTimeout));
  });
}

function stopped(where: string): LinkError {
  return { code: 'MRV_E_DEVICE_UNREACHABLE', message: `${where}: stopped` };
}

/**
 * Rejects with an AbortError-like error when one of `signals` aborts first. Listeners are removed once
 * `p` settles (AbortSignal.any would keep one combined signal per request alive on a long-lived signal).
 */
function abortable<T>(p: Promise<T>, signals: readonly (AbortSignal | undefined)[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const live = signals.filter((s): s is AbortSignal => s !== undefined);
    const onAbort = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    if (live.some((s) => s.aborted)) return onAbort();
    for (const s of live) s.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      for (const s of live) s.removeEventListener('abort', onAbort);
    });
  });
}

/** What {@link request} reads of modbus-serial's internals (not in its types). */
interface ClientInternals {
  _transactions?: Record<string, unknown>;
  _port?: { _transactionIdWrite?: number };
}

/**
 * Sends the read of one table (function codes 1–4) on a modbus-serial client; resolves with its answer
 * (`buffer`: the data bytes), rejects with modbus-serial's error. modbus-serial keeps every transaction by its id
 * (on TCP up to 256 per link) with the closure that holds its answer, long after it settled: at 16
 * devices ~4,000 stale answers, ~5 MiB of a gateway's live heap (bench/analysis.md, gateway
 * footprint). The entry is deleted once the request settles; an answer arriving later for a deleted
 * id is ignored by modbus-serial as for an unknown one.
 */
export function request(
  client: Client,
  table: ModbusTable,
  address: number,
  count: number,
): Promise<{ buffer: Buffer }> {
  const internals = client as unknown as ClientInternals;
  const id = internals._port?._transactionIdWrite;
  const p = send(client, table, address, count);
  const transactions = internals._transactions;
  const entry = id === undefined ? undefined : transactions?.[id];
  if (entry !== undefined && id !== undefined && transactions !== undefined) {
    const forget = () => {
      if (transactions[id] === entry) delete transactions[id];
    };
    p.then(forget, forget);
  }
  return p;
}

function send(
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
