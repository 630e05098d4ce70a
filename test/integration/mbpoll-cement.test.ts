/**
 * Interoperability: the cement simulator read by mbpoll (libmodbus, a client nobody here wrote) over
 * Modbus TCP and over Modbus RTU on a socat pty pair, and its fault controls as mbpoll sees them.
 * The simulator's clock is manual, so the registers stand still while mbpoll reads.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/time.ts';
import { FEEDERS } from '../../simulators/cement/model.ts';
import { type CementSimulator, startCementSimulator } from '../../simulators/cement/server.ts';
import { CEMENT_START } from '../helpers/cement-device.ts';
import { type PtyPair, startPtyPair } from '../helpers/socat.ts';

/** Runs mbpoll once with zero-based references; returns its output and the `[ref]: value` pairs. */
function mbpoll(args: string[]): Promise<{ ok: boolean; output: string; values: Map<number, string> }> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/mbpoll',
      ['-0', '-1', '-o', '1', ...args],
      { timeout: 10_000 },
      (err, stdout, stderr) => {
        const output = stdout + stderr;
        const values = new Map<number, string>();
        for (const m of output.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) values.set(Number(m[1]), m[2] ?? '');
        resolve({ ok: !err, output, values });
      },
    );
  });
}

const clock = new ManualClock(CEMENT_START + 3_600_000);
let sim: CementSimulator;
let pty: PtyPair;

beforeAll(async () => {
  pty = await startPtyPair();
  sim = await startCementSimulator({ clock, start: CEMENT_START, seed: 8, rtuPath: pty.a });
  sim.model.advanceTo(clock.now());
});
afterAll(async () => {
  await sim?.stop();
  await pty?.stop();
});

const tcp = () => ['-m', 'tcp', '-p', String(sim.ports.tcp)];

describe('cement simulator read by mbpoll', () => {
  it('reads the clinker rate (float32 ABCD, -B) and totalizer (int32 CDAB) over Modbus TCP', async () => {
    const s = sim.model.feeder('clinker');
    const rate = await mbpoll([...tcp(), '-a', '1', '-t', '4:float', '-B', '-r', '0', '127.0.0.1']);
    expect(rate.ok, rate.output).toBe(true);
    expect(Number(rate.values.get(0))).toBe(Number(Math.fround(s.rateTph).toPrecision(6)));
    const total = await mbpoll([...tcp(), '-a', '1', '-t', '4:int', '-r', '2', '127.0.0.1']);
    expect(total.values.get(2)).toBe(String(s.totalKg));
  });

  it('reads discrete inputs and the status word of a substitute feeder over RTU (9600 8E1)', async () => {
    const rtu = ['-m', 'rtu', '-b', '9600', '-P', 'even', '-a', String(FEEDERS.flyAsh.unitId)];
    const di = await mbpoll([...rtu, '-t', '1', '-r', '0', '-c', '2', pty.b]);
    expect(di.ok, di.output).toBe(true);
    expect([di.values.get(0), di.values.get(1)]).toEqual(['1', '0']);
    const status = await mbpoll([...rtu, '-t', '4', '-r', '4', '-c', '3', pty.b]);
    expect(status.ok, status.output).toBe(true);
    expect(status.values.get(5)).toBe(String(FEEDERS.flyAsh.substituteType));
  });

  it('sees the faults: exception 04, silence, a reset totalizer, a restart', async () => {
    const unit = FEEDERS.steelSlag.unitId;
    const args = [...tcp(), '-a', String(unit), '-t', '4:int', '-r', '2', '127.0.0.1'];
    sim.faults.exception(unit, 4);
    expect((await mbpoll(args)).output).toMatch(/Slave device or server failure/);
    sim.faults.timeout(unit);
    expect((await mbpoll(args)).output).toMatch(/timed out/i);
    sim.faults.clear(unit);
    sim.resetTotalizer('steelSlag');
    expect((await mbpoll(args)).values.get(2)).toBe('0');
    sim.restart('steelSlag', 60_000);
    expect((await mbpoll(args)).ok).toBe(false);
    clock.advance(60_000);
    const back = await mbpoll([...tcp(), '-a', String(unit), '-t', '4', '-r', '4', '127.0.0.1']);
    expect(Number(back.values.get(4)) & 4).toBe(4); // power-failure flag
  });
});
