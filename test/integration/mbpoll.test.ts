/**
 * Interoperability: the aluminium simulator read by mbpoll (libmodbus, a client nobody here wrote).
 * The clock is manual, so the registers do not move while mbpoll reads them; every number mbpoll
 * prints must equal what the model's snapshot holds. mbpoll comes from Debian (`apt-get install mbpoll`);
 * the project's test setup script installs it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/time.ts';
import type { AluminiumSnapshot } from '../../simulators/aluminium/model.ts';
import { type AluminiumSimulator, startAluminiumSimulator } from '../../simulators/aluminium/server.ts';

const run = promisify(execFile);
const MBPOLL = '/usr/bin/mbpoll';
/** 2026-03-01 00:00 China Standard Time. */
const START = Date.UTC(2026, 1, 28, 16);

/** Result of one mbpoll run: exit status, output, and the `[ref]: value` pairs it printed. */
interface Poll {
  ok: boolean;
  output: string;
  values: Map<number, string>;
}

/**
 * Runs mbpoll once (`-1`) against 127.0.0.1 with zero-based references (`-0`); with `writeValues` it writes.
 * mbpoll prints one line `[ref]: \tvalue` per value; 16-bit values above 32767 also show `(signed)`.
 */
async function mbpoll(port: number, args: string[], writeValues: string[] = []): Promise<Poll> {
  const argv = ['-m', 'tcp', '-p', String(port), '-0', '-1', '-o', '2', ...args, '127.0.0.1', ...writeValues];
  let output: string;
  let ok = true;
  try {
    const r = await run(MBPOLL, argv, { encoding: 'utf8', timeout: 10_000 });
    output = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`;
    ok = false;
  }
  const values = new Map<number, string>();
  for (const m of output.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) values.set(Number(m[1]), m[2] ?? '');
  return { ok, output, values };
}

/** mbpoll prints floats with printf's %g: six significant digits. Compared as numbers (%g may use an exponent). */
function asPrinted(v: number): number {
  return Number(Math.fround(v).toPrecision(6));
}

describe('aluminium simulator read by mbpoll', () => {
  const clock = new ManualClock(START);
  let sim: AluminiumSimulator;
  let snap: AluminiumSnapshot;

  beforeAll(async () => {
    try {
      await run(MBPOLL, ['-V'], { encoding: 'utf8' });
    } catch (err) {
      throw new Error(`mbpoll not found at ${MBPOLL}: apt-get install mbpoll (${String(err)})`);
    }
    sim = await startAluminiumSimulator({ clock, seed: 20260301, start: START });
    // Two virtual hours: tickets, anode settings and anode effects have happened.
    clock.advance(2 * 3_600_000);
    sim.model.advanceTo(clock.now());
    snap = sim.model.snapshot();
    expect(snap.ladle.ticketNo).toBeGreaterThan(sim.model.params.initialTicketNo);
  });

  afterAll(async () => {
    await sim?.stop();
  });

  it('binds four distinct free ports', () => {
    const ports = Object.values(sim.ports);
    expect(new Set(ports).size).toBe(4);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });

  it('reads uint16 cell voltages (input registers, mV)', async () => {
    const r = await mbpoll(sim.ports.potline, ['-t', '3', '-r', '8', '-c', '26']);
    expect(r.ok, r.output).toBe(true);
    expect(r.values.get(8)).toBe(String(snap.potline.activeAnodeEffects));
    expect(r.values.get(9)).toBe(String(snap.potline.cellsInLine));
    snap.potline.cellVoltagesMV.forEach((mv, i) => {
      expect(r.values.get(10 + i)).toBe(String(mv));
    });
  });

  it('reads float32 ABCD line current and voltage (input registers, -B)', async () => {
    const r = await mbpoll(sim.ports.potline, ['-t', '3:float', '-B', '-r', '0', '-c', '2']);
    expect(r.ok, r.output).toBe(true);
    expect(Number(r.values.get(0))).toBe(asPrinted(snap.potline.currentKA));
    expect(Number(r.values.get(2))).toBe(asPrinted(snap.potline.lineVoltageV));
  });

  it('reads uint32 ABCD counters and weights of the last ladle ticket (holding registers, -B)', async () => {
    const r = await mbpoll(sim.ports.ladle, ['-t', '4:int', '-B', '-r', '0', '-c', '5']);
    expect(r.ok, r.output).toBe(true);
    expect(r.values.get(0)).toBe(String(snap.ladle.ticketNo));
    expect(r.values.get(2)).toBe(String(snap.ladle.time));
    expect(r.values.get(4)).toBe(String(snap.ladle.grossKg));
    expect(r.values.get(6)).toBe(String(snap.ladle.tareKg));
    expect(r.values.get(8)).toBe(String(snap.ladle.netKg));
    expect(snap.ladle.grossKg - snap.ladle.tareKg).toBe(snap.ladle.netKg);
  });

  it('reads the uint32 CDAB energy totalizer and float32 CDAB power (low word first, no -B)', async () => {
    const e = await mbpoll(sim.ports.energy, ['-t', '4:int', '-r', '0', '-c', '1']);
    expect(e.ok, e.output).toBe(true);
    // mbpoll shows int32; the totalizer is uint32 (it starts near 2^32 by default).
    const signed = Number(e.values.get(0));
    expect(signed < 0 ? signed + 2 ** 32 : signed).toBe(snap.energy.totalizerKWh);
    const p = await mbpoll(sim.ports.energy, ['-t', '4:float', '-r', '2', '-c', '1']);
    expect(p.ok, p.output).toBe(true);
    expect(Number(p.values.get(2))).toBe(asPrinted(snap.energy.powerKW));
  });

  it('reads the anode totals', async () => {
    const r = await mbpoll(sim.ports.anode, ['-t', '4:int', '-B', '-r', '4', '-c', '3']);
    expect(r.ok, r.output).toBe(true);
    expect(r.values.get(4)).toBe(String(snap.anode.setWeightTotalKg));
    expect(r.values.get(6)).toBe(String(snap.anode.buttsReturned));
    expect(r.values.get(8)).toBe(String(snap.anode.buttWeightTotalKg));
  });

  it("reads the ladle terminal's ticket memory: the latest number and the last tickets' records", async () => {
    const index = await mbpoll(sim.ports.ladle, ['-t', '4:int', '-B', '-r', '100', '-c', '1']);
    expect(index.ok, index.output).toBe(true);
    expect(index.values.get(100)).toBe(String(snap.ladle.ticketNo));
    const size = sim.model.params.ticketLogRecords;
    for (const n of [snap.ladle.ticketNo - 2, snap.ladle.ticketNo - 1, snap.ladle.ticketNo]) {
      const t = snap.ladleLog[n % size];
      expect(t?.ticketNo).toBe(n);
      const base = 102 + (n % size) * 12;
      const r = await mbpoll(sim.ports.ladle, ['-t', '4:int', '-B', '-r', String(base), '-c', '5']);
      expect(r.ok, r.output).toBe(true);
      expect([0, 2, 4, 6, 8].map((o) => r.values.get(base + o))).toEqual(
        [t?.ticketNo, t?.time, t?.grossKg, t?.tareKg, t?.netKg].map(String),
      );
      const small = await mbpoll(sim.ports.ladle, ['-t', '4', '-r', String(base + 10), '-c', '2']);
      expect([small.values.get(base + 10), small.values.get(base + 11)]).toEqual(
        [t?.ladleId, t?.cellNo].map(String),
      );
    }
    // Between the last-ticket block and the ticket memory: exception 02.
    const gap = await mbpoll(sim.ports.ladle, ['-t', '4', '-r', '50', '-c', '1']);
    expect(gap.output).toMatch(/Illegal data address/);
  });

  it('answers exception 02 for addresses outside a station and 01 for writes', async () => {
    const past = await mbpoll(sim.ports.potline, ['-t', '3', '-r', '30', '-c', '10']);
    expect(past.ok).toBe(false);
    expect(past.output).toMatch(/Illegal data address/);
    const wrongTable = await mbpoll(sim.ports.ladle, ['-t', '3', '-r', '0', '-c', '1']);
    expect(wrongTable.ok).toBe(false);
    expect(wrongTable.output).toMatch(/Illegal data address/);
    const write = await mbpoll(sim.ports.ladle, ['-t', '4', '-r', '0'], ['7']);
    expect(write.ok).toBe(false);
    expect(write.output).toMatch(/Illegal function/);
    // The values did not change: the meter is read-only.
    const after = await mbpoll(sim.ports.ladle, ['-t', '4:int', '-B', '-r', '0', '-c', '1']);
    expect(after.values.get(0)).toBe(String(snap.ladle.ticketNo));
  });
});
