/**
 * One TCP connection to an HJ 212 platform for one device (MN): sends frames and waits for their
 * 9014 acknowledgements with timeout and retransmission (HJ 212-2017 §6.4: the sender waits
 * OverTime for the reply and resends up to ReCount times; our `ackTimeoutMs` and `retries`).
 *
 * Stop-and-wait: one packet in flight at a time, so an acknowledgement is matched by its QN. Packets
 * of one split message share a QN; when a packet had to be retransmitted, the extra 9014s its earlier
 * copies may still produce are expected and skipped, so a late ack never acknowledges the next packet
 * (skipping a real ack only costs one more retransmission, which the platform deduplicates).
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { MrvError } from '../../core/errors.ts';
import { decodePacket, splitFrames } from '../../core/hj212/frame.ts';
import { CN } from '../../core/hj212/protocol.ts';

/** Counters of one link. */
export interface LinkCounters {
  connects: number;
  framesSent: number;
  retransmissions: number;
  acks: number;
  staleAcks: number;
  badFrames: number;
}

/** A connected link; create with {@link openLink}. */
export interface Hj212Link {
  /**
   * Sends one frame and, when `qn` is given, waits for its 9014 (retransmitting up to `retries` times
   * after each `ackTimeoutMs`).
   * @throws MrvError `MRV_E_UPLINK` when the connection closes or no acknowledgement came
   */
  send(frame: string, qn?: string): Promise<void>;
  /** True until the socket closed. */
  readonly open: boolean;
  /** Closes the socket now. */
  close(): void;
  readonly counters: LinkCounters;
}

/** Options of {@link openLink}. */
export interface LinkOptions {
  host: string;
  port: number;
  mn: string;
  ackTimeoutMs: number;
  retries: number;
  log: Logger;
  counters: LinkCounters;
  connectTimeoutMs?: number;
}

/** A fresh set of counters. */
export function newCounters(): LinkCounters {
  return { connects: 0, framesSent: 0, retransmissions: 0, acks: 0, staleAcks: 0, badFrames: 0 };
}

/**
 * Connects to the platform.
 * @throws MrvError `MRV_E_UPLINK` when the connection cannot be made
 */
export async function openLink(opts: LinkOptions): Promise<Hj212Link> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: opts.host, port: opts.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new MrvError('MRV_E_UPLINK', `connect to ${opts.host}:${opts.port} timed out`));
    }, opts.connectTimeoutMs ?? 10_000);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      s.destroy();
      reject(
        new MrvError(
          'MRV_E_UPLINK',
          `cannot connect to ${opts.host}:${opts.port}: ${err.message}`,
          undefined,
          { cause: err },
        ),
      );
    });
  });
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);
  opts.counters.connects++;
  return new Link(socket, opts);
}

class Link implements Hj212Link {
  #buffer = '';
  #open = true;
  /** Per QN, 9014s still expected from earlier copies of acknowledged packets. */
  #stale = new Map<string, number>();
  #waiter: { qn: string; resolve: () => void } | undefined;
  #closeWaiters = new Set<(err: Error) => void>();

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: LinkOptions,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (err) => opts.log.debug({ err: err.message, mn: opts.mn }, 'HJ 212 socket error'));
    socket.on('close', () => {
      this.#open = false;
      const err = new MrvError('MRV_E_UPLINK', `platform ${opts.host}:${opts.port} closed the connection`);
      for (const w of this.#closeWaiters) w(err);
      this.#closeWaiters.clear();
    });
  }

  get open(): boolean {
    return this.#open;
  }

  get counters(): LinkCounters {
    return this.opts.counters;
  }

  close(): void {
    this.socket.destroy();
  }

  #onData(chunk: string): void {
    const { frames, rest } = splitFrames(this.#buffer + chunk);
    this.#buffer = rest.length > 65_536 ? '' : rest;
    for (const f of frames) {
      let p: ReturnType<typeof decodePacket>;
      try {
        p = decodePacket(f);
      } catch (err) {
        this.opts.counters.badFrames++;
        this.opts.log.warn(
          { mn: this.opts.mn, err: (err as Error).message },
          'HJ 212 frame from the platform refused',
        );
        continue;
      }
      if (p.cn !== CN.dataAck || p.qn === undefined) {
        this.opts.log.debug({ mn: this.opts.mn, cn: p.cn }, 'HJ 212 command from the platform ignored');
        continue;
      }
      const stale = this.#stale.get(p.qn) ?? 0;
      if (this.#waiter?.qn === p.qn && stale === 0) {
        this.opts.counters.acks++;
        this.#waiter.resolve();
        continue;
      }
      if (stale > 0) {
        if (stale === 1) this.#stale.delete(p.qn);
        else this.#stale.set(p.qn, stale - 1);
      }
      this.opts.counters.staleAcks++;
    }
  }

  async send(frame: string, qn?: string): Promise<void> {
    if (!this.#open) throw new MrvError('MRV_E_UPLINK', 'connection is closed');
    if (qn === undefined) {
      this.#write(frame);
      return;
    }
    let transmissions = 0;
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) this.opts.counters.retransmissions++;
      this.#write(frame);
      transmissions++;
      const acked = await this.#awaitAck(qn);
      if (acked) {
        if (transmissions > 1) this.#stale.set(qn, (this.#stale.get(qn) ?? 0) + transmissions - 1);
        return;
      }
      this.opts.log.warn({ mn: this.opts.mn, qn, attempt: attempt + 1 }, 'no HJ 212 acknowledgement in time');
    }
    throw new MrvError(
      'MRV_E_UPLINK',
      `no 9014 acknowledgement for QN ${qn} after ${this.opts.retries + 1} transmissions`,
      { qn, mn: this.opts.mn },
    );
  }

  #write(frame: string): void {
    this.socket.write(frame, 'latin1');
    this.opts.counters.framesSent++;
  }

  /** true when acknowledged, false on timeout. @throws MrvError when the connection closes */
  #awaitAck(qn: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiter = undefined;
        this.#closeWaiters.delete(onClose);
      };
      const onClose = (err: Error) => {
        done();
        reject(err);
      };
      const timer = setTimeout(() => {
        done();
        resolve(false);
      }, this.opts.ackTimeoutMs);
      this.#waiter = {
        qn,
        resolve: () => {
          done();
          resolve(true);
        },
      };
      if (!this.#open) return onClose(new MrvError('MRV_E_UPLINK', 'connection is closed'));
      this.#closeWaiters.add(onClose);
    });
  }
}
