/**
 * Modbus slave plumbing shared by the plant simulators: a service vector for modbus-serial's
 * `ServerTCP`/`ServerSerial` that answers several unit ids from one process, a fault control surface
 * (time out, answer an exception, restart), and listeners for Modbus TCP (including port 0), RTU on a
 * serial port and RTU over TCP.
 *
 * modbus-serial calls the callback forms used here (`getMultipleHoldingRegisters(addr, len, unit, cb)`,
 * `getHoldingRegister(addr, unit, cb)`, `getCoil(addr, unit, cb)`) and answers when the callback is
 * called; a callback never called means no answer at all, which is how a silent slave and a timeout
 * fault are simulated. Exceptions follow MODBUS Application Protocol V1.1b3 §7.
 */
import net from 'node:net';
import ModbusRTU from 'modbus-serial';
import type { Clock } from '../../core/time.ts';

/** Modbus exception codes the simulators answer (§7). */
export const EXCEPTION = {
  ILLEGAL_FUNCTION: 0x01,
  ILLEGAL_DATA_ADDRESS: 0x02,
  ILLEGAL_DATA_VALUE: 0x03,
  SLAVE_DEVICE_FAILURE: 0x04,
  SLAVE_DEVICE_BUSY: 0x06,
  GATEWAY_TARGET_FAILED: 0x0b,
} as const;

/** An error modbus-serial's servers turn into an exception response with this code. */
export function modbusError(code: number, message: string): Error {
  return Object.assign(new Error(message), { modbusErrorCode: code });
}

/** The four tables, named as the drivers name them. */
export type SimTable = 'coil' | 'discrete' | 'holding' | 'input';

/**
 * One simulated slave. `read` returns `length` register values (0–65535) or bits (0/1) starting at
 * `address`, or throws {@link modbusError} (e.g. illegal data address). Reads are read-only: writes
 * answer illegal function.
 */
export interface SimSlave {
  read(table: SimTable, address: number, length: number): number[];
}

/** Fault state of one unit id. */
type Fault = { kind: 'timeout' } | { kind: 'exception'; code: number } | { kind: 'down'; until: number };

/**
 * The control surface of a simulated device: tell a unit id to time out, answer an exception, or
 * be down for a while (a restart: silent for `downMs` of simulated time, then answering again).
 */
export class FaultControl {
  readonly #faults = new Map<number, Fault>();
  constructor(private readonly clock: Clock) {}

  /** The unit id stops answering (requests time out at the client) until {@link clear}. */
  timeout(unitId: number): void {
    this.#faults.set(unitId, { kind: 'timeout' });
  }

  /** The unit id answers every read with exception `code` (default 04 slave device failure) until {@link clear}. */
  exception(unitId: number, code: number = EXCEPTION.SLAVE_DEVICE_FAILURE): void {
    this.#faults.set(unitId, { kind: 'exception', code });
  }

  /** Restarts the unit: silent for `downMs` (simulated), then answers again. */
  restart(unitId: number, downMs: number): void {
    this.#faults.set(unitId, { kind: 'down', until: this.clock.now() + downMs });
  }

  /** Ends any fault of the unit id. */
  clear(unitId: number): void {
    this.#faults.delete(unitId);
  }

  /** What a request to `unitId` meets now: nothing, silence, or an exception code. */
  check(unitId: number): 'ok' | 'silent' | number {
    const f = this.#faults.get(unitId);
    if (!f) return 'ok';
    if (f.kind === 'timeout') return 'silent';
    if (f.kind === 'exception') return f.code;
    if (this.clock.now() < f.until) return 'silent';
    this.#faults.delete(unitId);
    return 'ok';
  }
}

type Cb<T> = (err: Error | null, value?: T) => void;

/**
 * A modbus-serial service vector answering the unit ids of `slaves`. A request to an unknown unit id
 * gets no answer (as on a bus where that address is empty).
 * @param slaves the slave of a unit id, or undefined
 */
export function serviceVector(
  slaves: (unitId: number) => SimSlave | undefined,
  faults: Pick<FaultControl, 'check'>,
) {
  const answer = <T>(unitId: number, cb: Cb<T>, produce: (s: SimSlave) => T): void => {
    const slave = slaves(unitId);
    if (!slave) return;
    const state = faults.check(unitId);
    if (state === 'silent') return;
    if (typeof state === 'number') {
      cb(modbusError(state, `unit ${unitId}: simulated exception ${state}`));
      return;
    }
    try {
      cb(null, produce(slave));
    } catch (err) {
      cb(err as Error);
    }
  };
  const readOnly = (unitId: number, cb: Cb<unknown>) =>
    answer(unitId, cb, () => {
      throw modbusError(EXCEPTION.ILLEGAL_FUNCTION, `unit ${unitId}: read-only`);
    });
  return {
    getCoil: (a: number, u: number, cb: Cb<boolean>) => answer(u, cb, (s) => s.read('coil', a, 1)[0] === 1),
    getDiscreteInput: (a: number, u: number, cb: Cb<boolean>) =>
      answer(u, cb, (s) => s.read('discrete', a, 1)[0] === 1),
    getHoldingRegister: (a: number, u: number, cb: Cb<number>) =>
      answer(u, cb, (s) => s.read('holding', a, 1)[0] ?? 0),
    getInputRegister: (a: number, u: number, cb: Cb<number>) =>
      answer(u, cb, (s) => s.read('input', a, 1)[0] ?? 0),
    getMultipleHoldingRegisters: (a: number, n: number, u: number, cb: Cb<number[]>) =>
      answer(u, cb, (s) => s.read('holding', a, n)),
    // modbus-serial's FC 4 callback path indexes `values` before looking at `err`: without an array an
    // exception (02, or an injected one) would turn into a TypeError answered as 04.
    getMultipleInputRegisters: (a: number, n: number, u: number, cb: Cb<number[]>) =>
      answer<number[]>(
        u,
        (err, v) => cb(err, v ?? []),
        (s) => s.read('input', a, n),
      ),
    setCoil: (_a: number, _v: boolean, u: number, cb: Cb<unknown>) => readOnly(u, cb),
    setRegister: (_a: number, _v: number, u: number, cb: Cb<unknown>) => readOnly(u, cb),
    setRegisterArray: (_a: number, _v: number[], u: number, cb: Cb<unknown>) => readOnly(u, cb),
  };
}

/** A service vector as modbus-serial's servers take it. */
export type ServiceVector = ReturnType<typeof serviceVector>;

/** A running listener. */
export interface Listener {
  /** Closes the listener and its client sockets or serial port. Idempotent. */
  close(): Promise<void>;
}

type ServerTCP = InstanceType<typeof ModbusRTU.ServerTCP>;

/** A port the OS reports free on `host` right now. */
function probeFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts one ServerTCP and resolves once it listens; rejects with the bind error. */
function listenOnce(vector: object, host: string, port: number): Promise<ServerTCP> {
  return new Promise((resolve, reject) => {
    // unitID 255: hand every unit id to the vector, which decides who answers.
    const server = new ModbusRTU.ServerTCP(vector as ConstructorParameters<typeof ModbusRTU.ServerTCP>[0], {
      host,
      port,
      unitID: 255,
    });
    const onError = (err: Error | null) => {
      server.close(() => reject(err ?? new Error('server error')));
    };
    server.once('serverError', onError);
    server.once('initialized', () => {
      server.removeListener('serverError', onError);
      // Client resets and writes to sockets closed by close() must not crash the process.
      server.on('socketError', () => {});
      server.on('serverError', () => {});
      server.on('error', () => {});
      resolve(server);
    });
  });
}

/**
 * Modbus TCP server (MBAP framing) on `host:port`. Port 0 means "any free port": modbus-serial treats
 * port 0 as its default 502, so a free port is probed first and the bind retried if another process
 * takes it in between.
 * @param vector a modbus-serial service vector (e.g. from {@link serviceVector})
 * @returns the bound port and `close()`
 * @throws the bind error (e.g. EADDRINUSE for a fixed port)
 */
export async function listenModbusTcp(
  vector: object,
  host: string,
  port: number,
): Promise<Listener & { port: number }> {
  const wrap = (server: ServerTCP, bound: number) => {
    let closed: Promise<void> | undefined;
    return {
      port: bound,
      close: () => {
        closed ??= new Promise<void>((r) => server.close(() => r()));
        return closed;
      },
    };
  };
  if (port !== 0) return wrap(await listenOnce(vector, host, port), port);
  for (let attempt = 1; ; attempt++) {
    const free = await probeFreePort(host);
    try {
      return wrap(await listenOnce(vector, host, free), free);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw err;
    }
  }
}

/** Serial line settings of an RTU listener. */
export interface SerialSettings {
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
}

/**
 * Modbus RTU slave on a serial port (or one end of a socat pty pair), answering the unit ids the
 * vector knows. Uses modbus-serial's `ServerSerial`, which frames requests by a 30 ms silence.
 * @throws the open error (e.g. ENOENT for a missing path)
 */
export function listenModbusRtu(
  vector: object,
  path: string,
  serial: SerialSettings = {},
): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const server = new ModbusRTU.ServerSerial(
      vector as ConstructorParameters<typeof ModbusRTU.ServerSerial>[0],
      {
        path,
        baudRate: serial.baudRate ?? 9600,
        parity: serial.parity ?? 'even',
        dataBits: serial.dataBits ?? 8,
        stopBits: serial.stopBits ?? 1,
        unitID: 255,
        openCallback: (err: Error | null) => {
          if (err) reject(err);
        },
      } as ConstructorParameters<typeof ModbusRTU.ServerSerial>[1],
    );
    server.on('error', () => {});
    server.on('socketError', () => {});
    server.once('initialized', () => {
      let closed: Promise<void> | undefined;
      resolve({
        close: () => {
          closed ??= new Promise<void>((r) => server.close(() => r()));
          return closed;
        },
      });
    });
  });
}

/**
 * RTU over TCP: a TCP server whose connections carry RTU frames (unit id, PDU, CRC), as a transparent
 * serial-to-Ethernet converter in front of an RS-485 bus does. Frames are cut by the request length
 * (reads and single writes are 8 bytes, §6.1–6.6); the answer is built by a private RTU framer.
 * @param port 0 for any free port
 */
export async function listenModbusRtuOverTcp(
  vector: ServiceVector,
  host: string,
  port: number,
): Promise<Listener & { port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const frame = buf.subarray(0, 8);
        buf = buf.subarray(8);
        handleRtuFrame(vector, frame, (reply) => {
          if (!socket.destroyed) socket.write(reply);
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  let closed: Promise<void> | undefined;
  return {
    port: bound,
    close: () => {
      for (const s of sockets) s.destroy();
      closed ??= new Promise<void>((r) => server.close(() => r()));
      return closed;
    },
  };
}

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), as sent low byte first (Modbus over Serial Line §6.2.2). */
export function crc16(data: Uint8Array): number {
  let crc = 0xffff;
  for (const b of data) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** Answers one 8-byte RTU read request (FC 1–4) from the vector; other function codes get exception 01. */
function handleRtuFrame(vector: ServiceVector, frame: Buffer, send: (reply: Buffer) => void): void {
  if (crc16(frame.subarray(0, 6)) !== frame.readUInt16LE(6)) return; // a bad frame is ignored (§2.4.1)
  const unit = frame[0] ?? 0;
  const fc = frame[1] ?? 0;
  const address = frame.readUInt16BE(2);
  const count = frame.readUInt16BE(4);
  const reply = (pdu: Buffer) => {
    const adu = Buffer.alloc(pdu.length + 3);
    adu[0] = unit;
    pdu.copy(adu, 1);
    adu.writeUInt16LE(crc16(adu.subarray(0, adu.length - 2)), adu.length - 2);
    send(adu);
  };
  const fail = (err: Error | null) =>
    reply(Buffer.from([fc | 0x80, (err as { modbusErrorCode?: number } | null)?.modbusErrorCode ?? 0x04]));
  if (fc === 3 || fc === 4) {
    const get = fc === 3 ? vector.getMultipleHoldingRegisters : vector.getMultipleInputRegisters;
    get(address, count, unit, (err, values) => {
      if (err || !values) return fail(err);
      const pdu = Buffer.alloc(2 + count * 2);
      pdu[0] = fc;
      pdu[1] = count * 2;
      values.forEach((v, i) => {
        pdu.writeUInt16BE(v & 0xffff, 2 + i * 2);
      });
      reply(pdu);
    });
  } else if (fc === 1 || fc === 2) {
    const bits: boolean[] = [];
    let failed = false;
    const get = fc === 1 ? vector.getCoil : vector.getDiscreteInput;
    for (let i = 0; i < count && !failed; i++)
      get(address + i, unit, (err, v) => {
        if (err) {
          failed = true;
          return fail(err);
        }
        bits.push(v === true);
      });
    if (failed || bits.length < count) return;
    const pdu = Buffer.alloc(2 + Math.ceil(count / 8));
    pdu[0] = fc;
    pdu[1] = Math.ceil(count / 8);
    bits.forEach((b, i) => {
      if (b) pdu[2 + (i >> 3)] = (pdu[2 + (i >> 3)] ?? 0) | (1 << (i & 7));
    });
    reply(pdu);
  } else fail(modbusError(EXCEPTION.ILLEGAL_FUNCTION, `function ${fc}`));
}

/** Several Modbus TCP servers started together, one per key. */
export interface TcpServers<K extends string> {
  /** Bound port of each server. */
  ports: Record<K, number>;
  /** Closes every server and its client sockets. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts one Modbus TCP server per key, one after the other (fixed ports stay predictable); when one
 * cannot bind, those already started are closed.
 * @param what names the servers in the error, e.g. "power simulator: server" (then the key follows)
 * @param vectors the service vector of each key; `ports` the wanted port of each (absent or 0: a free one)
 * @throws Error naming the key and port of the failed bind
 */
export async function listenModbusTcpAll<K extends string>(
  what: string,
  host: string,
  vectors: Readonly<Record<K, object>>,
  ports: Partial<Record<K, number>> = {},
): Promise<TcpServers<K>> {
  const servers: Listener[] = [];
  const bound = {} as Record<K, number>;
  try {
    for (const key of Object.keys(vectors) as K[]) {
      const wanted = ports[key] ?? 0;
      try {
        const server = await listenModbusTcp(vectors[key], host, wanted);
        servers.push(server);
        bound[key] = server.port;
      } catch (err) {
        throw new Error(`${what} ${key} cannot listen on ${host}:${wanted}: ${String(err)}`, { cause: err });
      }
    }
  } catch (err) {
    await Promise.all(servers.map((l) => l.close()));
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    ports: bound,
    stop: () => {
      stopped ??= Promise.all(servers.map((l) => l.close())).then(() => undefined);
      return stopped;
    },
  };
}
