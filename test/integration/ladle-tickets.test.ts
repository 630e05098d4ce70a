// Issue 18 item 1: ladle tickets from the weighing terminal's ticket memory, with real parts only:
// the aluminium simulator over Modbus TCP (its ladle station keeps a ring of tickets) → gateway
// (example site file, disk log and data folder in a temp dir) → Mosquitto → collector → SQLite →
// monthly evidence. The clock is a ManualClock: the gateway is stopped while the plant taps ladles for
// three hours across midnight of a month end, restarted, and every ticket must be counted once, in
// the month of its own weighing time. A second smelter with a ring of 8 shows a wrap beyond the ring:
// the missing numbers are stored and become MRV_F_TICKETS_MISSING.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Decimal } from 'decimal.js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { Collector } from '../../collector/collector.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { EvidencePackage } from '../../core/domain/evidence.ts';
import { ManualClock } from '../../core/time.ts';
import { buildEvidence, loadEvidenceKey, storeSource } from '../../evidence/service.ts';
import { type LoadedSite, parseSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { AluminiumSmelterModel, type LadleTicket } from '../../simulators/aluminium/model.ts';
import { type AluminiumSimulator, startAluminiumSimulator } from '../../simulators/aluminium/server.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const SITE_FILE = new URL('../../examples/aluminium-smelter.site.yaml', import.meta.url);
const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
/** How long a poll cycle may take to reach the store on a loaded 2-core machine (~0.1 s when quiet). */
const DELIVERY_MS = 60_000;
const HOUR = 3_600_000;
const SEED = 11;

/** The tickets a model with this seed taps in its first `ms` (ticket times relative to start 0). */
function probeTickets(ms: number, params: Record<string, number> = {}): LadleTicket[] {
  const m = new AluminiumSmelterModel({
    seed: SEED,
    start: 0,
    params: { ticketLogRecords: 4096, ...params },
  });
  m.advanceTo(ms);
  return m
    .snapshot()
    .ladleLog.filter((t): t is LadleTicket => t !== undefined)
    .sort((a, b) => a.ticketNo - b.ticketNo);
}

/** Net weight in t of tickets, exact (whole kg / 1000). */
const tonnes = (ts: readonly LadleTicket[]) =>
  new Decimal(ts.reduce((n, t) => n + t.netKg, 0)).div(1000).toFixed();

interface Rig {
  sim: AluminiumSimulator;
  store: SqliteStore;
  site: LoadedSite;
  unitId: string;
  tmp: string;
  clockNow(): number;
  startGateway(): Promise<Gateway>;
  /** Waits until the store holds ladle ticket `n` from the ticket memory (any reading of it without one). */
  stored(n: number): Promise<void>;
  evidence(month: string): Promise<EvidencePackage>;
  stop(): Promise<void>;
}

/** @param records the ring size, or 0 for a site file that reads only the "last ticket" registers */
async function rig(clock: ManualClock, start: number, records: number): Promise<Rig> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-tickets-'));
  const stops: (() => Promise<void>)[] = [];
  const sim = await startAluminiumSimulator({
    clock,
    seed: SEED,
    start,
    params: { ticketLogRecords: Math.max(records, 1) },
  });
  stops.push(() => sim.stop());
  const mosquitto = await startMosquitto();
  stops.push(() => mosquitto.stop());
  const doc = parseDocument(readFileSync(SITE_FILE, 'utf8'));
  const devices = doc.toJS().devices as { id: string }[];
  for (const [i, d] of devices.entries()) {
    const station = Object.values(sim.registerMap).find((s) => s.deviceId === d.id);
    if (!station) throw new Error(`device ${d.id} is not a simulator station`);
    doc.setIn(['devices', i, 'port'], sim.ports[station.id]);
    doc.setIn(['devices', i, 'timeoutMs'], 15_000);
    if (d.id === 'ladle-scale' && records > 0)
      doc.setIn(['devices', i, 'eventLogs', 0, 'ring', 'records'], records);
    if (d.id === 'ladle-scale' && records === 0) doc.deleteIn(['devices', i, 'eventLogs']);
  }
  doc.setIn(['gateway', 'bufferDir'], path.join(tmp, 'gw', 'buffer'));
  const site = parseSiteConfig(String(doc), path.join(tmp, 'site.yaml'));
  const store = new SqliteStore({ path: path.join(tmp, 'store.db') });
  await store.start();
  const collector = new Collector({
    url: mosquitto.url,
    store,
    live: new LiveHub(),
    log,
    clock,
    clientId: 'c1',
  });
  await collector.start();
  stops.unshift(
    () => collector.stop(),
    () => store.stop(),
  );
  const unitId = site.site.unit.id;
  const source = storeSource(store, unitId);
  const key = loadEvidenceKey(path.join(tmp, 'evidence.pem'), true);
  return {
    sim,
    store,
    site,
    unitId,
    tmp,
    clockNow: () => clock.now(),
    async startGateway() {
      const g = new Gateway({ site, log, clock, mqttUrl: mosquitto.url });
      await g.start();
      return g;
    },
    async stored(n) {
      // From the ticket memory: the ticket at its weighing time (the "last ticket" registers give the
      // same number at the poll time: not what is waited for). Without one (records 0): any reading.
      sim.model.advanceTo(clock.now());
      const t = sim.model.snapshot().ladleLog.find((x) => x?.ticketNo === n);
      if (records > 0 && !t) throw new Error(`ticket ${n} is not in the simulator's ring`);
      const [from, to] =
        records > 0 && t ? [t.time * 1000, t.time * 1000 + 1] : [start - HOUR, clock.now() + 1];
      await expect
        .poll(
          async () =>
            (await source.read('ladle.ticket_no', from, to)).some(
              (s) => s.value === String(n) && s.quality === 'good',
            ),
          { timeout: DELIVERY_MS, interval: 100 },
        )
        .toBe(true);
    },
    evidence: (month) =>
      buildEvidence({
        store,
        unitId,
        month,
        now: clock.now(),
        generator: 'carbon-mrv test',
        key,
        sites: [site.site],
      }),
    async stop() {
      for (const s of stops) await s();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** The model at the clock's time (it advances only when a station is read). */
function plant(r: Rig) {
  r.sim.model.advanceTo(r.clockNow());
  return r.sim.model.snapshot();
}

type Counted = { ticket: string; ts: string; value: string };
const events = (pkg: EvidencePackage): Counted[] =>
  (pkg.parameters.find((p) => p.id === 'aluminium.liquid_output')?.points[0]?.detail.events ??
    []) as Counted[];
const cst = (ms: number) => `${new Date(ms + 8 * HOUR).toISOString().slice(0, 23)}+08:00`;

describe('ladle tickets across a gateway outage over midnight of a month end', () => {
  // Ticket 40 of this seed is made to be weighed at 23:59:40 on 2026-12-31 (UTC+8).
  const probe = probeTickets(5 * HOUR);
  const t40 = probe[39] as LadleTicket;
  const LAST_SECOND = Date.parse('2026-12-31T23:59:40+08:00');
  const START = LAST_SECOND - t40.time * 1000;
  const clock = new ManualClock(START + HOUR);
  let r: Rig;

  beforeAll(async () => {
    r = await rig(clock, START, 64);
  }, DELIVERY_MS);

  afterAll(async () => {
    await r?.stop();
  });

  it('collects every ticket tapped while the gateway was down, each once and in the month it was weighed', {
    timeout: 4 * DELIVERY_MS,
  }, async () => {
    // The gateway's first start (no state): the whole ring.
    const g1 = await r.startGateway();
    await r.stored(plant(r).ladle.ticketNo);
    clock.advance(10 * 60_000); // ten minutes of normal operation: a ticket or two, read at once
    await r.stored(plant(r).ladle.ticketNo);
    const seenBeforeOutage = plant(r).ladle.ticketNo;
    await g1.stop();
    const state = JSON.parse(readFileSync(path.join(r.tmp, 'gw', 'event-logs', 'ladle-scale.json'), 'utf8'));
    expect(state.logs['ladle-tickets'].lastSeen).toBe(seenBeforeOutage);

    // Three hours without a gateway, across midnight: the ladles go on being tapped.
    clock.advance(3 * HOUR);
    const last = plant(r).ladle.ticketNo;
    expect(last - seenBeforeOutage).toBeGreaterThan(30);
    const g2 = await r.startGateway();
    await r.stored(last);
    await g2.stop();

    // Every ticket the model issued (the ring holds them all: fewer than 64 in 4 h 10 min).
    const issued = plant(r).ladleLog.filter((t): t is LadleTicket => t !== undefined);
    expect(issued).toHaveLength(r.sim.model.ledger().tickets);
    const midnight = Date.parse('2027-01-01T00:00:00+08:00');
    const dec = issued.filter((t) => t.time * 1000 < midnight).sort((a, b) => a.ticketNo - b.ticketNo);
    const jan = issued.filter((t) => t.time * 1000 >= midnight).sort((a, b) => a.ticketNo - b.ticketNo);
    expect(dec.at(-1)?.time).toBe(LAST_SECOND / 1000); // the ticket at 23:59:40 is December's last

    const decPkg = await r.evidence('2026-12');
    const janPkg = await r.evidence('2027-01');
    const own = (t: LadleTicket): Counted => ({
      ticket: String(t.ticketNo),
      ts: cst(t.time * 1000),
      value: String(t.netKg / 1000),
    });
    // Each ticket once, at its own weighing time, in its own month.
    expect(events(decPkg)).toEqual(dec.map(own));
    expect(events(janPkg)).toEqual(jan.map(own));
    expect(events(decPkg).at(-1)?.ts).toBe('2026-12-31T23:59:40.000+08:00');
    const decValue = decPkg.parameters.find((p) => p.id === 'aluminium.liquid_output')?.value;
    const janValue = janPkg.parameters.find((p) => p.id === 'aluminium.liquid_output')?.value;
    expect(decValue).toBe(tonnes(dec));
    expect(janValue).toBe(tonnes(jan));
    // Nothing is missing, and a ticket read hours after it was weighed is no clock skew.
    for (const pkg of [decPkg, janPkg])
      expect(pkg.findings.filter((f) => f.code === 'MRV_F_TICKETS_MISSING')).toEqual([]);
    const findings = await r.store.listFindings(r.unitId, START - HOUR, clock.now() + HOUR);
    expect(findings.filter((f) => f.code === 'MRV_F_CLOCK_SKEW')).toEqual([]);
  });
});

describe('ladle tickets when the outage outlasts the ring', () => {
  const START = Date.parse('2026-11-15T08:00:00+08:00');
  const clock = new ManualClock(START + HOUR);
  let r: Rig;

  beforeAll(async () => {
    r = await rig(clock, START, 8);
  }, DELIVERY_MS);

  afterAll(async () => {
    await r?.stop();
  });

  it('stores the overwritten numbers and lists them as MRV_F_TICKETS_MISSING', {
    timeout: 4 * DELIVERY_MS,
  }, async () => {
    const g1 = await r.startGateway();
    const before = plant(r).ladle.ticketNo;
    await r.stored(before);
    await g1.stop();
    clock.advance(2 * HOUR); // about 25 ladles: the ring of 8 keeps the last 8
    const last = plant(r).ladle.ticketNo;
    expect(last - before).toBeGreaterThan(10);
    const g2 = await r.startGateway();
    await r.stored(last);
    await g2.stop();

    const lost = [before + 1, last - 8];
    const source = storeSource(r.store, r.unitId);
    const ticketReadings = await source.read('ladle.ticket_no', START, clock.now() + 1);
    const notice = ticketReadings.filter((s) => s.quality === 'bad');
    expect(notice).toHaveLength(1);
    expect(notice[0]?.reason).toBe(
      `MRV_E_TICKETS_OVERWRITTEN: ${lost[1]! - lost[0]! + 1} ticket(s) ${lost[0]}–${lost[1]} were overwritten in event log ladle-tickets (8 records) before they were read`,
    );

    const pkg = await r.evidence('2026-11');
    const counted = events(pkg).map((e) => Number(e.ticket));
    // The 8 tickets the ring held at the first start, and the 8 it still held after the outage, each once.
    const expected = [
      ...Array.from({ length: 8 }, (_, i) => before - 7 + i),
      ...Array.from({ length: 8 }, (_, i) => last - 7 + i),
    ];
    expect(counted).toEqual(expected);
    const f = pkg.findings.filter((x) => x.code === 'MRV_F_TICKETS_MISSING');
    expect(f).toHaveLength(1);
    expect(f[0]?.detail).toMatchObject({
      count: lost[1]! - lost[0]! + 1,
      ranges: [{ from: String(lost[0]), to: String(lost[1]), count: lost[1]! - lost[0]! + 1 }],
    });
  });
});

describe('ladle tickets without the ticket memory (the defect of issue 18 item 1)', () => {
  const START = Date.parse('2026-11-15T08:00:00+08:00');
  const clock = new ManualClock(START + HOUR);
  let r: Rig;

  beforeAll(async () => {
    r = await rig(clock, START, 0);
  }, DELIVERY_MS);

  afterAll(async () => {
    await r?.stop();
  });

  it('loses the tickets of an outage from the key parameter, and the finding names them', {
    timeout: 4 * DELIVERY_MS,
  }, async () => {
    const g1 = await r.startGateway();
    const before = plant(r).ladle.ticketNo;
    await r.stored(before);
    await g1.stop();
    clock.advance(HOUR);
    const last = plant(r).ladle.ticketNo;
    const g2 = await r.startGateway();
    await r.stored(last);
    await g2.stop();
    const pkg = await r.evidence('2026-11');
    // Only what the "last ticket" registers showed when polled: the ticket before and the one after.
    expect(events(pkg).map((e) => Number(e.ticket))).toEqual([before, last]);
    const f = pkg.findings.filter((x) => x.code === 'MRV_F_TICKETS_MISSING');
    expect(f[0]?.detail).toMatchObject({ count: last - before - 1 });
    expect(f[0]?.message.en).toContain(`(${before + 1}–${last - 1})`);
  });
});
