import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/time.ts';
import { decodeRaw } from '../../../drivers/modbus/decode.ts';
import { type AluminiumSimulator, startAluminiumSimulator } from '../../../simulators/aluminium/server.ts';

const START = Date.UTC(2026, 1, 28, 16);

/**
 * Sends one raw Modbus TCP read (FC 3 or 4) and returns the PDU of the answer: function code then
 * data, e.g. [0x04, byteCount, ...registers] or [0x84, exceptionCode].
 */
function rawRead(port: number, fc: number, address: number, count: number, unitId = 1): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const req = Buffer.alloc(12);
    req.writeUInt16BE(0x1234, 0); // transaction id
    req.writeUInt16BE(0, 2); // protocol id
    req.writeUInt16BE(6, 4); // length: unit id + PDU
    req.writeUInt8(unitId, 6);
    req.writeUInt8(fc, 7);
    req.writeUInt16BE(address, 8);
    req.writeUInt16BE(count, 10);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no answer within 2 s'));
    }, 2000);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 6 && buf.length >= 6 + buf.readUInt16BE(4)) {
        clearTimeout(timer);
        sock.end();
        expect(buf.readUInt16BE(0)).toBe(0x1234);
        resolve(buf.subarray(7, 6 + buf.readUInt16BE(4)));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.write(req);
  });
}

describe('startAluminiumSimulator', () => {
  const clock = new ManualClock(START);
  const sims: AluminiumSimulator[] = [];
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.stop()));
  });

  it('answers from the model at the clock time, and moves only when the clock does', async () => {
    const sim = await startAluminiumSimulator({ clock, seed: 4, start: START });
    sims.push(sim);
    const ticketAt = async () => {
      const pdu = await rawRead(sim.ports.ladle, 3, 0, 2);
      expect(pdu[0]).toBe(3);
      expect(pdu[1]).toBe(4);
      return Number(decodeRaw(pdu, 2, 'uint32', 'ABCD'));
    };
    const t0 = await ticketAt();
    expect(t0).toBe(sim.model.params.initialTicketNo);
    expect(sim.model.tick).toBe(0);
    clock.advance(3_600_000);
    const t1 = await ticketAt();
    expect(sim.model.tick).toBe(3600);
    expect(t1).toBe(sim.model.snapshot().ladle.ticketNo);
    expect(t1).toBeGreaterThan(t0 + 5);
    expect(await ticketAt()).toBe(t1);
  });

  it('answers a partial read inside a block and exceptions outside it', async () => {
    const sim = await startAluminiumSimulator({ clock, seed: 4, start: START });
    sims.push(sim);
    const cell = await rawRead(sim.ports.potline, 4, 12, 1);
    expect([...cell.subarray(0, 2)]).toEqual([4, 2]);
    expect(cell.readUInt16BE(2)).toBe(sim.model.snapshot().potline.cellVoltagesMV[2]);
    // Last register of the block is fine, one past it is not.
    expect((await rawRead(sim.ports.potline, 4, 33, 1))[0]).toBe(4);
    expect([...(await rawRead(sim.ports.potline, 4, 33, 2))]).toEqual([0x84, 0x02]);
    expect([...(await rawRead(sim.ports.potline, 3, 0, 2))]).toEqual([0x83, 0x02]);
    expect([...(await rawRead(sim.ports.energy, 3, 100, 1))]).toEqual([0x83, 0x02]);
    expect([...(await rawRead(sim.ports.anode, 1, 0, 1))]).toEqual([0x81, 0x02]);
    // Any unit id is answered.
    expect((await rawRead(sim.ports.anode, 3, 0, 2, 17))[0]).toBe(3);
  });

  it('reports a port in use, naming the station, and stops the servers it had started', async () => {
    const first = await startAluminiumSimulator({ clock, start: START });
    sims.push(first);
    const err = await startAluminiumSimulator({
      clock,
      start: START,
      ports: { potline: 0, energy: first.ports.energy },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).toMatch(/station energy cannot listen on 127\.0\.0\.1:\d+/);
  });

  it('stops idempotently and frees its ports', async () => {
    const sim = await startAluminiumSimulator({ clock, start: START });
    await sim.stop();
    await sim.stop();
    const again = await startAluminiumSimulator({ clock, start: START, ports: sim.ports });
    expect(again.ports).toEqual(sim.ports);
    await again.stop();
  });
});
