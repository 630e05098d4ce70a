import { describe, expect, it } from 'vitest';
import { applyScaling, decodeRaw, registerCount } from '../../../drivers/modbus/decode.ts';
import { ALUMINIUM_DEFAULTS, AluminiumSmelterModel } from '../../../simulators/aluminium/model.ts';
import {
  ALUMINIUM_REGISTER_MAP,
  aluminiumRegisterMap,
  encodeStation,
  STATION_IDS,
  stationBlock,
} from '../../../simulators/aluminium/register-map.ts';
import { Prng } from '../../../simulators/prng.ts';

/** 2026-01-01 00:00 China Standard Time. */
const START = Date.UTC(2025, 11, 31, 16);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('AluminiumSmelterModel determinism', () => {
  it('gives the same state at the same time whatever the pattern of advances', () => {
    const once = new AluminiumSmelterModel({ seed: 11, start: START });
    const stepped = new AluminiumSmelterModel({ seed: 11, start: START });
    const checkpoints = [HOUR, 2.5 * HOUR, 6 * HOUR + 123];
    const steps = new Prng(99);
    let t = START;
    for (const c of checkpoints) {
      once.advanceTo(START + c);
      // Irregular steps: sub-second, repeated, backwards (ignored) and long ones.
      while (t < START + c) {
        t = Math.min(START + c, t + Math.floor(steps.exponential(20_000)) + (steps.uniform() < 0.1 ? 0 : 1));
        stepped.advanceTo(t);
        if (steps.uniform() < 0.05) stepped.advanceTo(t - 5000);
      }
      expect(stepped.tick).toBe(once.tick);
      expect(stepped.snapshot()).toEqual(once.snapshot());
      expect(stepped.ledger()).toEqual(once.ledger());
    }
  });

  it('counts only whole ticks: state at t is the state at the last whole second', () => {
    const a = new AluminiumSmelterModel({ seed: 5, start: START + 250 });
    a.advanceTo(START + 250 + 10_999);
    expect(a.tick).toBe(10);
    expect(a.time).toBe(START + 250 + 10_000);
    a.advanceTo(START);
    expect(a.tick).toBe(10);
  });

  it('differs between seeds', () => {
    const a = new AluminiumSmelterModel({ seed: 1, start: START });
    const b = new AluminiumSmelterModel({ seed: 2, start: START });
    a.advanceTo(START + HOUR);
    b.advanceTo(START + HOUR);
    expect(a.snapshot().potline.currentKA).not.toBe(b.snapshot().potline.currentKA);
    expect(a.snapshot().potline.cellVoltagesMV).not.toEqual(b.snapshot().potline.cellVoltagesMV);
    expect(a.ledger()).not.toEqual(b.ledger());
  });

  it('rejects impossible parameters', () => {
    expect(
      () => new AluminiumSmelterModel({ seed: 1, start: START, params: { monitoredCells: 400 } }),
    ).toThrow(RangeError);
    expect(() => new AluminiumSmelterModel({ seed: 1, start: START, params: { lineCurrentKA: 0 } })).toThrow(
      RangeError,
    );
    expect(
      () => new AluminiumSmelterModel({ seed: 1, start: START, params: { initialEnergyKWh: 2 ** 32 } }),
    ).toThrow(RangeError);
  });
});

describe('AluminiumSmelterModel over a simulated day', () => {
  // One model, sampled every second for a day: ranges, anode effects on monitored cells, monotonic totals.
  const m = new AluminiumSmelterModel({ seed: 2026, start: START });
  const p = m.params;
  let minCurrent = Number.POSITIVE_INFINITY;
  let maxCurrent = Number.NEGATIVE_INFINITY;
  let normalMin = Number.POSITIVE_INFINITY;
  let normalMax = Number.NEGATIVE_INFINITY;
  let aeSamplesOnMonitored = 0;
  let aeVoltageMin = Number.POSITIVE_INFINITY;
  let aeVoltageMax = Number.NEGATIVE_INFINITY;
  let monotonic = true;
  let ticketsSeen = new Set<number>();
  const ticketProblems: string[] = [];
  let prev = m.snapshot();
  for (let s = 1; s <= 86_400; s++) {
    m.advanceTo(START + s * 1000);
    const snap = m.snapshot();
    minCurrent = Math.min(minCurrent, snap.potline.currentKA);
    maxCurrent = Math.max(maxCurrent, snap.potline.currentKA);
    const inAe = new Set(m.activeAnodeEffects().map((a) => a.cell));
    snap.potline.cellVoltagesV.forEach((v, i) => {
      if (inAe.has(i + 1)) {
        aeSamplesOnMonitored++;
        aeVoltageMin = Math.min(aeVoltageMin, v);
        aeVoltageMax = Math.max(aeVoltageMax, v);
      } else {
        normalMin = Math.min(normalMin, v);
        normalMax = Math.max(normalMax, v);
      }
    });
    const mono = [
      [prev.potline.anodeEffectCount, snap.potline.anodeEffectCount],
      [prev.potline.anodeEffectSeconds, snap.potline.anodeEffectSeconds],
      [prev.energy.energyWh, snap.energy.energyWh],
      [prev.ladle.ticketNo, snap.ladle.ticketNo],
      [prev.anode.blocksSet, snap.anode.blocksSet],
      [prev.anode.setWeightTotalKg, snap.anode.setWeightTotalKg],
      [prev.anode.buttWeightTotalKg, snap.anode.buttWeightTotalKg],
    ];
    if (mono.some(([a, b]) => (b ?? 0) < (a ?? 0))) monotonic = false;
    if (snap.ladle.ticketNo !== prev.ladle.ticketNo) {
      const t = snap.ladle;
      if (t.ticketNo !== prev.ladle.ticketNo + 1) ticketProblems.push(`gap before ${t.ticketNo}`);
      if (t.grossKg !== t.tareKg + t.netKg) ticketProblems.push(`gross ≠ tare + net on ${t.ticketNo}`);
      if (t.time !== snap.time / 1000) ticketProblems.push(`time of ${t.ticketNo}`);
      ticketsSeen.add(t.ticketNo);
    }
    prev = snap;
  }
  ticketsSeen = new Set(ticketsSeen);
  const ledger = m.ledger();

  it('keeps current and normal cell voltages in their physical ranges', () => {
    expect(minCurrent).toBeGreaterThan(390);
    expect(maxCurrent).toBeLessThan(410);
    expect(normalMin).toBeGreaterThanOrEqual(3.8);
    expect(normalMax).toBeLessThanOrEqual(4.6);
    const snap = m.snapshot();
    expect(snap.potline.cellVoltagesMV).toHaveLength(24);
    expect(snap.potline.lineVoltageV / p.cellsInLine).toBeGreaterThan(4.0);
    expect(snap.potline.lineVoltageV / p.cellsInLine).toBeLessThan(4.6);
    expect(snap.energy.powerKW).toBeGreaterThan(480_000);
    expect(snap.energy.powerKW).toBeLessThan(530_000);
  });

  it('has anode effects over the day, with consistent counter and seconds', () => {
    // Expected ≈ 300 cells × 0.15 per cell-day = 45 per day.
    expect(ledger.anodeEffectCount).toBeGreaterThan(20);
    expect(ledger.anodeEffectCount).toBeLessThan(80);
    const active = m.activeAnodeEffects();
    expect(ledger.anodeEffectCount).toBe(ledger.anodeEffectsCompleted + active.length);
    const running = active.reduce((sum, a) => sum + (m.tick - a.startTick + 1), 0);
    expect(ledger.anodeEffectSeconds).toBe(ledger.completedAnodeEffectSeconds + running);
    expect(ledger.completedAnodeEffectSeconds).toBeGreaterThanOrEqual(
      ledger.anodeEffectsCompleted * p.anodeEffectMinS,
    );
    expect(ledger.completedAnodeEffectSeconds).toBeLessThanOrEqual(
      ledger.anodeEffectsCompleted * p.anodeEffectMaxS,
    );
    const snap = m.snapshot();
    expect(snap.potline.anodeEffectCount).toBe(ledger.anodeEffectCount);
    expect(snap.potline.anodeEffectSeconds).toBe(ledger.anodeEffectSeconds);
    // AEM (anode-effect minutes per cell-day) in the range of modern prebake lines.
    const aem = ledger.anodeEffectSeconds / 60 / p.cellsInLine;
    expect(aem).toBeGreaterThan(0.02);
    expect(aem).toBeLessThan(1);
  });

  it('shows anode effects on the monitored cells as 30–50 V', () => {
    // 24 of 300 cells are monitored: about 3.6 effects per day, each about a minute.
    expect(aeSamplesOnMonitored).toBeGreaterThan(0);
    expect(aeVoltageMin).toBeGreaterThan(28);
    expect(aeVoltageMax).toBeLessThan(52);
  });

  it('keeps every cumulative total monotonic and tickets gapless and consistent', () => {
    expect(monotonic).toBe(true);
    expect(ticketProblems).toEqual([]);
    // ≈ 899 t/day in ≈ 3 t ladles: about 300 tickets.
    expect(ticketsSeen.size).toBeGreaterThan(250);
    expect(ticketsSeen.size).toBeLessThan(360);
    expect(ledger.tickets).toBe(ticketsSeen.size);
  });

  it('weighs ladles of 2–4 t net and blocks of about 1.1 t with 20–25 % butts', () => {
    const snap = m.snapshot();
    expect(snap.ladle.netKg).toBeGreaterThanOrEqual(2000);
    expect(snap.ladle.netKg).toBeLessThanOrEqual(4000);
    expect(snap.ladle.tareKg).toBeGreaterThan(3000);
    expect(snap.anode.lastBlockKg).toBeGreaterThan(1000);
    expect(snap.anode.lastBlockKg).toBeLessThan(1200);
    const buttShare = ledger.anodeButtKg / ledger.anodeSetKg;
    expect(buttShare).toBeGreaterThan(0.2);
    expect(buttShare).toBeLessThan(0.25);
    expect(snap.anode.buttsReturned).toBe(snap.anode.blocksSet);
  });

  it('taps what it produces (Faraday) within one ladle', () => {
    expect(Number.isInteger(ledger.tappedKg)).toBe(true);
    expect(ledger.producedKg - ledger.tappedKg).toBeGreaterThanOrEqual(0);
    expect(ledger.producedKg - ledger.tappedKg).toBeLessThanOrEqual(p.ladleNetMaxKg);
    // 0.3356 kg/kA·h × 400 kA × 0.93 × 300 cells × 24 h ≈ 899 t.
    expect(ledger.producedKg / 1000).toBeGreaterThan(880);
    expect(ledger.producedKg / 1000).toBeLessThan(920);
  });
});

describe('AluminiumSmelterModel over a few days', () => {
  it('consumes 0.38–0.50 t net anode per t Al and 12.5–14 MWh per t Al', () => {
    for (const seed of [1, 77]) {
      const m = new AluminiumSmelterModel({ seed, start: START });
      m.advanceTo(START + 3 * DAY);
      const l = m.ledger();
      expect(l.anodeNetKg).toBe(l.anodeSetKg - l.anodeButtKg);
      const perTon = l.anodeNetKg / l.tappedKg;
      expect(perTon).toBeGreaterThan(0.38);
      expect(perTon).toBeLessThan(0.5);
      const mwhPerTon = l.energyWh / 1e6 / (l.tappedKg / 1000);
      expect(mwhPerTon).toBeGreaterThan(12.5);
      expect(mwhPerTon).toBeLessThan(14);
    }
  });
});

describe('energy totalizer', () => {
  it('rolls over at 2^32 kWh, in the registers too (uint32 CDAB)', () => {
    const initial = 2 ** 32 - 1000;
    const m = new AluminiumSmelterModel({ seed: 3, start: START, params: { initialEnergyKWh: initial } });
    m.advanceTo(START + 5000);
    const before = m.snapshot().energy;
    expect(before.totalizerKWh).toBe(initial + Math.floor(before.energyWh / 1000));
    m.advanceTo(START + 60_000); // 60 s × ≈ 140 kWh/s ≈ 8.4 MWh: past the roll-over
    const after = m.snapshot().energy;
    expect(after.totalizerKWh).toBeLessThan(before.totalizerKWh);
    expect(after.totalizerKWh).toBe((initial + Math.floor(after.energyWh / 1000)) % 2 ** 32);
    // The register image holds the rolled-over value, low word first.
    const station = ALUMINIUM_REGISTER_MAP.energy;
    const regs = encodeStation(station, m.snapshot());
    const point = station.points.find((pt) => pt.id === 'energy.dc_import')!;
    const wire = Buffer.from(regs.flatMap((r) => [r >> 8, r & 0xff]));
    expect(decodeRaw(wire, point.address * 2, 'uint32', 'CDAB')).toBe(String(after.totalizerKWh));
    expect(regs[point.address]).toBe(after.totalizerKWh & 0xffff);
  });
});

describe('register map', () => {
  it('keeps each station in one contiguous block of one table within 125 registers', () => {
    for (const id of STATION_IDS) {
      const block = stationBlock(ALUMINIUM_REGISTER_MAP[id]);
      expect(block.count).toBeLessThanOrEqual(125);
      const ids = ALUMINIUM_REGISTER_MAP[id].points.map((pt) => pt.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(
      ALUMINIUM_REGISTER_MAP.potline.points.filter((pt) => /^potline\.cell\d+\.voltage$/.test(pt.id)),
    ).toHaveLength(ALUMINIUM_DEFAULTS.monitoredCells);
    expect(stationBlock(aluminiumRegisterMap(40).potline).count).toBe(50);
  });

  it('decodes back to the snapshot values exactly', () => {
    const m = new AluminiumSmelterModel({ seed: 8, start: START });
    m.advanceTo(START + 2 * HOUR);
    const snap = m.snapshot();
    const values = new Map<string, string>();
    for (const id of STATION_IDS) {
      const station = ALUMINIUM_REGISTER_MAP[id];
      const { start } = stationBlock(station);
      const regs = encodeStation(station, snap);
      const wire = Buffer.from(regs.flatMap((r) => [r >> 8, r & 0xff]));
      for (const pt of station.points) {
        expect(pt.address - start + registerCount(pt.type)).toBeLessThanOrEqual(regs.length);
        const raw = decodeRaw(wire, (pt.address - start) * 2, pt.type, pt.order);
        values.set(pt.id, applyScaling(raw, pt.scale !== undefined ? { scale: pt.scale } : {}));
      }
    }
    expect(values.get('ladle.net')).toBe(String(snap.ladle.netKg / 1000));
    expect(values.get('ladle.ticket_no')).toBe(String(snap.ladle.ticketNo));
    expect(values.get('anode.set_total')).toBe(String(snap.anode.setWeightTotalKg / 1000));
    expect(values.get('potline.cell07.voltage')).toBe(String((snap.potline.cellVoltagesMV[6] ?? 0) / 1000));
    expect(Number(values.get('potline.current'))).toBeCloseTo(snap.potline.currentKA, 3);
    expect(Number(values.get('energy.dc_power'))).toBeCloseTo(snap.energy.powerKW, -1);
    expect(values.get('energy.dc_import')).toBe(String(snap.energy.totalizerKWh / 1000));
  });
});
