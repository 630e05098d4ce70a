/**
 * A receiving HJ 212 platform for tests and demos (`mrv sim hj212-platform`): accepts TCP
 * connections, decodes every frame, checks its length and CRC, acknowledges data packets that ask
 * for it (Flag A) with a 9014, and stores what it got, in memory and optionally as JSON lines.
 *
 * Stored record per valid data packet: receive time, MN, ST, CN, QN, Flag, PNUM/PNO, DataTime and the
 * values, and `duplicate: true` when (MN, CN, DataTime, PNO) was already stored: this is how a
 * platform recognises a packet sent again after a lost acknowledgement. A frame that fails its CRC or
 * length is recorded with `error` and not acknowledged (the sender then retransmits). The password is
 * checked when `passwords` is given and never stored.
 *
 * Each frame is handled after `ackDelayMs` and stored and acknowledged in the same step, so stopping
 * the simulator never leaves a packet stored but unacknowledged.
 */
import { appendFileSync } from 'node:fs';
import net from 'node:net';
import { type CodeValues, decodeDataCp, encodeDataAck } from '../../core/hj212/data.ts';
import { decodePacket, splitFrames, wantsAck } from '../../core/hj212/frame.ts';
import { HJ212_VERSIONS, parseFlag } from '../../core/hj212/protocol.ts';

/** One thing the platform received. */
export interface PlatformRecord {
  receivedAt: string;
  /** Present when the frame was refused: what was wrong (CRC, length, header, password). */
  error?: string;
  mn?: string;
  st?: string;
  cn?: string;
  qn?: string;
  flag?: number;
  pnum?: number;
  pno?: number;
  /** DataTime as ISO-8601 (UTC), for data packets. */
  dataTime?: string;
  values?: CodeValues[];
  /** True when (MN, CN, DataTime, PNO) had been stored before. */
  duplicate?: boolean;
  acked?: boolean;
}

/** Options of {@link startHj212Platform}. */
export interface PlatformOptions {
  host?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** JSON-lines file to append every record to. */
  out?: string;
  /** Delay before handling each frame, ms (to let tests stop the platform mid-stream). */
  ackDelayMs?: number;
  /** Return true to withhold the 9014 of a packet (it is still stored): simulates lost acknowledgements. */
  dropAck?: (record: PlatformRecord) => boolean;
  /** MN → expected password; a packet with another PW is refused. Absent: any password. */
  passwords?: Map<string, string>;
  /** Version bits of the Flag of our 9014s; default HJ 212-2017's. */
  versionBits?: number;
}

/** A running platform simulator. */
export interface Hj212Platform {
  host: string;
  port: number;
  /** Every record so far, in order of arrival. */
  records(): PlatformRecord[];
  /** Stops listening and closes every connection. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the platform simulator. Resolves once it listens. */
export async function startHj212Platform(opts: PlatformOptions = {}): Promise<Hj212Platform> {
  const host = opts.host ?? '127.0.0.1';
  const records: PlatformRecord[] = [];
  const seen = new Set<string>();
  const sockets = new Set<net.Socket>();
  const versionBits = opts.versionBits ?? HJ212_VERSIONS['hj212-2017'].versionBits;
  let stopped = false;

  const keep = (r: PlatformRecord) => {
    records.push(r);
    if (opts.out) appendFileSync(opts.out, `${JSON.stringify(r)}\n`);
  };

  const handle = (socket: net.Socket, frame: string) => {
    if (stopped || socket.destroyed) return;
    const receivedAt = new Date().toISOString();
    let p: ReturnType<typeof decodePacket>;
    try {
      p = decodePacket(frame);
    } catch (err) {
      keep({ receivedAt, error: (err as Error).message });
      return;
    }
    const expected = opts.passwords?.get(p.mn);
    if (opts.passwords && expected !== p.pw) {
      keep({ receivedAt, mn: p.mn, cn: p.cn, error: 'wrong password (PW) for this MN' });
      return;
    }
    const rec: PlatformRecord = { receivedAt, mn: p.mn, st: p.st, cn: p.cn, flag: p.flag };
    if (p.qn !== undefined) rec.qn = p.qn;
    if (parseFlag(p.flag).packetised) {
      rec.pnum = p.pnum!;
      rec.pno = p.pno!;
    }
    try {
      const d = decodeDataCp(p.cp);
      rec.dataTime = new Date(d.dataTime).toISOString();
      rec.values = d.values;
    } catch (err) {
      if (/^20\d\d$/.test(p.cn)) rec.error = (err as Error).message;
    }
    const key = `${p.mn}|${p.cn}|${rec.dataTime ?? p.qn}|${rec.pno ?? 1}`;
    rec.duplicate = seen.has(key);
    seen.add(key);
    rec.acked = wantsAck(p) && !opts.dropAck?.(rec);
    keep(rec);
    if (rec.acked) socket.write(encodeDataAck(p, versionBits), 'latin1');
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setEncoding('latin1');
    let buffer = '';
    let chain = Promise.resolve();
    socket.on('data', (chunk: string) => {
      const { frames, rest } = splitFrames(buffer + chunk);
      buffer = rest;
      for (const f of frames) {
        chain = chain.then(async () => {
          if (opts.ackDelayMs) await new Promise((r) => setTimeout(r, opts.ackDelayMs));
          handle(socket, f);
        });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    host,
    port: address.port,
    records: () => [...records],
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
