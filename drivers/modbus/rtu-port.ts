/**
 * The byte-stream port under modbus-serial's client for RTU framing (a serial line, or a TCP socket
 * to a transparent serial-to-Ethernet converter). modbus-serial builds each request and checks each
 * answer (CRC, unit id, function code, length, exception responses); this port decides which bytes
 * are offered to it as the answer, so that a frame meant for another request never is.
 *
 * RTU frames carry no transaction id (Modbus over Serial Line V1.02 §2.5.1.1): the only proof that
 * an answer belongs to a request is that the line carried nothing else since the request. So:
 * - bytes are an answer only while a request is pending; bytes that arrive while none is (a late
 *   answer, a second copy, a frame out of turn) are counted as stray and make {@link needsDrain} true;
 * - an answer ends after the expected length with a silence of at least 3.5 character times
 *   (§2.5.1.1) and once the device's answer window since the request has passed (rtu-guard.ts), at
 *   most until just before the request's timeout: bytes after the expected length turn it into a
 *   longer frame, which modbus-serial rejects ("Data length error") instead of taking its first part.
 *   The decision is taken after this process has polled for input once more, so bytes that arrived
 *   while its event loop was busy are counted before the frame is (a due timer runs before pending
 *   input is read);
 * - after any anomaly the link calls {@link RtuFramePort.drain}: input is discarded until the line
 *   has been silent for the device's worst-case answer time, before the next request goes out.
 *
 * modbus-serial 8.0.25's own RTU ports (RTUBufferedPort, TelnetPort) scan their buffer for the unit id
 * and function code of the latest request and never discard it between requests, which is how a late
 * answer was taken as the answer to the next request (issue 16).
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { AnswerTimes, frameCompleteAt, MIN_GUARD_MS } from './rtu-guard.ts';

/** Longest RTU frame (Modbus over Serial Line §2.5.1: 256 bytes). */
const MAX_FRAME = 256;
/** Length of an exception answer: unit id, function code | 0x80, exception code, CRC (Application Protocol §7). */
const EXCEPTION_LENGTH = 5;

/** The part of a serialport or net.Socket stream the port uses. */
interface ByteStream {
  write(data: Buffer): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close' | 'error', listener: (arg?: unknown) => void): unknown;
  removeAllListeners(): unknown;
  destroy(): unknown;
}

/** Serial line settings (see config.ts `serialLine`). */
export interface SerialSettings {
  path: string;
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: 7 | 8;
  stopBits: 1 | 2;
}

/** Where the port's bytes go: a serial device, or a TCP endpoint carrying raw RTU frames. */
export type RtuTransport =
  | ({ kind: 'serial' } & SerialSettings)
  | { kind: 'tcp'; host: string; port: number };

/** What the pending request expects back. */
interface Expected {
  unit: number;
  fc: number;
  /** Whole frame length with CRC, or undefined when this port does not know it. */
  length: number | undefined;
  sentAt: number;
  /** The request's answer timeout, ms. */
  timeoutMs: number;
}

/** serialport as modbus-serial resolves it (its own dependency, so the versions always match). */
interface SerialPortLike extends ByteStream {
  open(cb: (err: Error | null) => void): void;
  close(cb?: (err: Error | null) => void): void;
  readonly isOpen: boolean;
}
type SerialPortCtor = new (opts: Record<string, unknown>) => SerialPortLike;

function serialPortClass(): SerialPortCtor {
  const req = createRequire(createRequire(import.meta.url).resolve('modbus-serial'));
  return (req('serialport') as { SerialPort: SerialPortCtor }).SerialPort;
}

/** Expected answer length of a request frame (unit, fc, address, count, CRC), as modbus-serial computes it. */
function answerLength(req: Buffer): number | undefined {
  const fc = req[1];
  if (req.length < 6) return undefined;
  const count = req.readUInt16BE(4);
  if (fc === 1 || fc === 2) return 3 + Math.ceil(count / 8) + 2;
  if (fc === 3 || fc === 4) return 3 + 2 * count + 2;
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8;
  return undefined;
}

/**
 * 3.5 character times in ms (Modbus over Serial Line §2.5.1.1); fixed at 1.75 ms above 19200 baud.
 * A character is 11 bits in RTU mode (start, 8 data, parity or second stop, stop).
 */
export function interFrameSilenceMs(baudRate: number): number {
  return baudRate > 19_200 ? 1.75 : (3.5 * 11 * 1000) / baudRate;
}

/**
 * A port object for `new ModbusRTU(port)`: open/close/destroy/write/isOpen and `data` events, one per
 * answer frame, as modbus-serial expects of its ports. Not shared outside link.ts.
 */
export class RtuFramePort extends EventEmitter {
  /** Set by modbus-serial's `open()`; RTU has one transaction at a time, so both stay 1. */
  _transactionIdRead = 1;
  _transactionIdWrite = 1;
  #stream: ByteStream | undefined;
  #open = false;
  #expect: Expected | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #frameTimer: NodeJS.Timeout | undefined;
  #frameCheck: NodeJS.Immediate | undefined;
  #answerTimer: NodeJS.Timeout | undefined;
  #answerCheck: NodeJS.Immediate | undefined;
  #lastRxAt = 0;
  #draining = false;
  #stray = 0;
  #desync = false;
  #timeoutMs = 1000;
  /** The line's recent answer times: the window a stale frame's real answer would follow in. */
  readonly #answers: AnswerTimes;
  /** Silence that ends an answer, ms: at least 3.5 character times, and at least {@link MIN_GUARD_MS}. */
  readonly minGuardMs: number;

  /**
   * @param transport the serial device or TCP endpoint
   * @param connectTimeoutMs TCP connect timeout (serial opens are local)
   * @param answers the line's answer times, kept by the link across reconnects (default: new)
   */
  constructor(
    readonly transport: RtuTransport,
    private readonly connectTimeoutMs: number,
    answers: AnswerTimes = new AnswerTimes(),
  ) {
    super();
    this.#answers = answers;
    const silence = transport.kind === 'serial' ? interFrameSilenceMs(transport.baudRate) : 0;
    this.minGuardMs = Math.max(MIN_GUARD_MS, Math.ceil(silence));
  }

  /** modbus-serial's open check. */
  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * The device's answer window, ms after a request (rtu-guard.ts {@link AnswerTimes.windowMs}): an
   * answer counts as complete only once it has passed, so that a stale frame taken for an answer is
   * still followed, inside it, by the real answer.
   */
  get answerWindowMs(): number {
    return this.#answers.windowMs();
  }

  /** Arms the end of the pending frame (rtu-guard.ts {@link frameCompleteAt}). */
  #armFrameEnd(e: Expected): void {
    const at = frameCompleteAt({
      sentAt: e.sentAt,
      lastRxAt: this.#lastRxAt,
      timeoutMs: e.timeoutMs,
      windowMs: this.#answers.windowMs(),
      minGuardMs: this.minGuardMs,
    });
    // The timer, then one more poll for input (setImmediate runs after it): input that arrived while
    // the loop was busy is read (and resets this) before the frame counts.
    this.#frameTimer = setTimeout(
      () => {
        this.#frameCheck = setImmediate(() => this.#emitFrame());
      },
      Math.max(0, at - Date.now()),
    );
  }

  #clearFrameEnd(): void {
    clearTimeout(this.#frameTimer);
    clearImmediate(this.#frameCheck);
  }

  /**
   * Arms the pending request's answer timeout: after `timeoutMs`, and one more poll for input (an
   * answer that waited in the kernel while the loop was busy is read first: a due timer runs before
   * pending input is), the port emits `answerTimeout` if the request is still unanswered (an answer
   * begun by then gets twice {@link minGuardMs} more to end in, once). The link
   * fails the request on it (modbus-serial's own timer, which fires before that poll, is only a
   * backstop there).
   */
  #armAnswerTimeout(e: Expected, afterMs = e.timeoutMs, extended = false): void {
    this.#answerTimer = setTimeout(() => {
      this.#answerCheck = setImmediate(() => {
        if (this.#expect !== e) return;
        // The answer has begun (its bytes may have waited in the kernel past the deadline): once, give
        // it its inter-frame silence to end in before it times out.
        if (this.#buf.length > 0 && !extended) this.#armAnswerTimeout(e, 2 * this.minGuardMs, true);
        else this.emit('answerTimeout');
      });
    }, afterMs);
  }

  #clearAnswerTimeout(): void {
    clearTimeout(this.#answerTimer);
    clearImmediate(this.#answerCheck);
  }

  /**
   * True after bytes that belong to no request (stray bytes, a frame of the wrong unit id, function
   * code or length, a timed-out request): the line must be drained before the next request.
   */
  get needsDrain(): boolean {
    return this.#desync || this.#stray > 0 || this.#buf.length > 0;
  }

  /** Stray bytes seen since the last drain (for messages). */
  get strayBytes(): number {
    return this.#stray;
  }

  /** The answer timeout (ms) of the requests that follow; the link sets it with modbus-serial's. */
  setAnswerTimeout(ms: number): void {
    this.#timeoutMs = ms;
  }

  /**
   * Marks the line as out of step (the link calls this on a timeout, an abandoned request or a rejected
   * answer): the line is drained before the next request. A rejected answer (`frameRejected`) also
   * makes the next answers wait for the slowest answer time ({@link AnswerTimes.markAnomaly}): a frame
   * that did not belong was on the line. A timeout does not: the drain proves the line silent for the
   * device's worst-case answer time, and answer times stretched by a loaded process would otherwise
   * stretch the next 32 requests.
   */
  markDesync(frameRejected: boolean): void {
    this.#desync = true;
    if (frameRejected) this.#answers.markAnomaly();
    this.#clearAnswerTimeout();
    this.#expect = undefined;
  }

  /** Opens the serial device or TCP connection; `cb(err)` once. */
  open(cb: (err?: Error | null) => void): void {
    const t = this.transport;
    let done = false;
    const finish = (err?: Error | null) => {
      if (done) return;
      done = true;
      cb(err);
    };
    if (t.kind === 'serial') {
      const SerialPort = serialPortClass();
      const sp = new SerialPort({
        path: t.path,
        baudRate: t.baudRate,
        parity: t.parity,
        dataBits: t.dataBits,
        stopBits: t.stopBits,
        autoOpen: false,
      });
      this.#attach(sp);
      sp.open((err) => {
        if (err) {
          this.#stream = undefined;
          sp.removeAllListeners();
          finish(err);
          return;
        }
        this.#open = true;
        finish();
      });
      return;
    }
    const socket = net.connect({ host: t.host, port: t.port });
    this.#attach(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      finish(
        Object.assign(new Error(`connect timed out after ${this.connectTimeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    }, this.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      this.#open = true;
      finish();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      finish(err);
    });
  }

  #attach(stream: ByteStream): void {
    this.#stream = stream;
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    stream.on('close', () => {
      const was = this.#open;
      this.#open = false;
      if (was) this.emit('close');
    });
  }

  /** Closes for good: destroys the socket or closes the serial device (never a half-close). */
  close(cb?: (err?: Error | null) => void): void {
    this.destroy();
    cb?.();
  }

  /** As {@link close}: modbus-serial calls `destroy()` from its own `destroy()`. */
  destroy(): void {
    this.#open = false;
    this.#expect = undefined;
    this.#clearFrameEnd();
    this.#clearAnswerTimeout();
    const s = this.#stream;
    this.#stream = undefined;
    if (!s) return;
    s.removeAllListeners();
    // Errors after close (EBADF on a vanished USB adapter) must not reach the process.
    s.on('error', () => {});
    if ('isOpen' in s) (s as SerialPortLike).close(() => {});
    else s.destroy();
  }

  /** modbus-serial sends a request: remember what answers it, then write. */
  write(data: Buffer): void {
    const s = this.#stream;
    if (!s || !this.#open) return;
    // Bytes left over from before are stray; the link drains before it writes, so this is a backstop.
    if (this.#buf.length > 0) {
      this.#stray += this.#buf.length;
      this.#answers.markAnomaly();
      this.#buf = Buffer.alloc(0);
    }
    this.#clearFrameEnd();
    this.#clearAnswerTimeout();
    this.#expect = {
      unit: data[0] ?? 0,
      fc: data[1] ?? 0,
      length: answerLength(data),
      sentAt: Date.now(),
      timeoutMs: this.#timeoutMs,
    };
    this.#armAnswerTimeout(this.#expect);
    s.write(data);
  }

  #onData(chunk: Buffer): void {
    this.#lastRxAt = Date.now();
    if (this.#draining) return;
    const e = this.#expect;
    if (!e) {
      this.#stray += chunk.length;
      this.#answers.markAnomaly();
      return;
    }
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#clearFrameEnd();
    if (this.#buf.length > MAX_FRAME) {
      this.#emitFrame();
      return;
    }
    // A plausible answer still short of its length keeps waiting (a USB adapter or a converter may
    // deliver it in pieces); otherwise the frame ends with the guard silence.
    const b = this.#buf;
    const headerOk = b[0] === e.unit && (b[1] === e.fc || b[1] === (e.fc | 0x80));
    const need = b[1] === (e.fc | 0x80) ? EXCEPTION_LENGTH : e.length;
    if (headerOk && need !== undefined && b.length < need) return;
    this.#armFrameEnd(e);
  }

  #emitFrame(): void {
    const e = this.#expect;
    const frame = this.#buf;
    this.#buf = Buffer.alloc(0);
    this.#expect = undefined;
    this.#clearAnswerTimeout();
    if (!e || frame.length === 0) return;
    const exception = frame[1] === (e.fc | 0x80);
    const need = exception ? EXCEPTION_LENGTH : e.length;
    const matches = frame[0] === e.unit && (frame[1] === e.fc || exception) && frame.length === need;
    if (matches) this.#answers.add(this.#lastRxAt - e.sentAt);
    else {
      this.#desync = true;
      this.#answers.markAnomaly();
    }
    this.emit('data', frame);
  }

  /**
   * Discards input until the line has been silent for `quietMs` (reading nothing), then clears the
   * stray and out-of-step state. Resolves `true` when the line went quiet, `false` when it did not
   * within `maxMs` (a line that keeps talking) or `signal` aborted.
   * @param quietMs inter-frame silence plus the device's worst-case answer time, ms
   */
  async drain(quietMs: number, maxMs: number, signal?: AbortSignal): Promise<boolean> {
    this.#draining = true;
    this.#expect = undefined;
    this.#clearFrameEnd();
    this.#clearAnswerTimeout();
    this.#buf = Buffer.alloc(0);
    const start = Date.now();
    this.#lastRxAt = Math.max(this.#lastRxAt, start);
    try {
      for (;;) {
        if (signal?.aborted || !this.#open) return false;
        const now = Date.now();
        const quietFor = now - this.#lastRxAt;
        if (quietFor >= quietMs) {
          this.#stray = 0;
          this.#desync = false;
          return true;
        }
        if (now - start >= maxMs) return false;
        await sleep(Math.min(quietMs - quietFor, start + maxMs - now) + 1, signal);
      }
    } finally {
      this.#draining = false;
    }
  }
}

/** Re-exported from rtu-guard.ts for the port's users. */
export { MIN_GUARD_MS };

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(1, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
