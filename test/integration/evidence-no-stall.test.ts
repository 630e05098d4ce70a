// No stall while evidence is built (issue 19 item 3: "building evidence while a gateway polls at 1 s
// leaves no gap > 1.5 s"). Everything in one process, as in `mrv demo`: the aluminium simulator's
// pot-line station over Modbus TCP → a gateway polling it every second → the embedded MQTT broker →
// collector → SQLite store file → the server, whose evidence runs in a worker thread
// (evidence/evidence-pool.ts). A heavy unit in the same store (test/helpers/heavy-month.ts: totalizers
// read every second, each value changing every second) has its month built several times over HTTP
// while the gateway polls; the builds must overlap the polling (asserted from their times), the
// polled point's stored readings must have no gap > 1.5 s during them (on a machine so loaded that
// the same polling without any build shows a longer gap, none longer than that), and each package must be the
// one an in-process build gives, byte for byte. The event-loop delay of this process during the builds
// is measured (perf_hooks.monitorEventLoopDelay) and printed. The control: the same build on the event
// loop (threads 0) does stall the polling, so the gap check can fail.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { startEmbeddedBroker } from '../../cli/embedded-broker.ts';
import { Collector } from '../../collector/collector.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { EvidencePackage } from '../../core/domain/evidence.ts';
import { monthPeriod } from '../../core/domain/period.ts';
import { ManualClock } from '../../core/time.ts';
import { loadEvidenceKey, trustedOf, verifyEvidenceSignature } from '../../evidence/service.ts';
import { parseSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { buildServer } from '../../server/app.ts';
import { startAluminiumSimulator } from '../../simulators/aluminium/server.ts';
import { HEAVY_MONTH, HEAVY_UNIT, heavySite, seedHeavyMonth } from '../helpers/heavy-month.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const SITE_FILE = new URL('../../examples/aluminium-smelter.site.yaml', import.meta.url);
/** The heavy unit: totalizers × days of 1 s readings (≈ 1 M readings, a build of several seconds). */
const POINTS = 6;
const DAYS = 1;
const BUILDS = 3;
const POLLED = 'potline.current';
/** The limit between consecutive readings of a point polled every second. */
const MAX_GAP_MS = 1500;

interface Run {
  /** Wall-clock start and end of the builds, ms epoch. */
  from: number;
  to: number;
  bodies: string[];
  /** Longest event-loop delay: the histogram's max or the 10 ms timer's longest wait, whichever is longer. */
  loopMaxMs: number;
  /** The histogram's 99th percentile (0 without samples). */
  loopP99Ms: number;
  samples: number;
}

describe('building evidence while a gateway polls at 1 s', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-nostall-'));
  const file = path.join(tmp, 'mrv.sqlite');
  const keyFile = path.join(tmp, 'key.pem');
  const stops: (() => Promise<void>)[] = [];
  let store: SqliteStore;
  let unitId: string;
  let seeded = 0;
  const heavy = heavySite(POINTS);
  // The packages' clock: after the month, fixed, so every build of it gives the same bytes.
  const serverClock = new ManualClock(monthPeriod(HEAVY_MONTH).to + 3_600_000);
  let polledSite: ReturnType<typeof parseSiteConfig>;

  const server = (threads: number): FastifyInstance => {
    const app = buildServer({
      store,
      live: new LiveHub(),
      clock: serverClock,
      logger: false,
      domain: {
        sites: [heavy, polledSite.site],
        keyFile,
        generator: 'carbon-mrv test',
        evidenceWorkers: { threads, store: { kind: 'sqlite', path: file } },
      },
    });
    stops.unshift(() => app.close());
    return app;
  };

  /** Builds the heavy month `BUILDS` times over HTTP, one after the other, measuring the event loop. */
  const buildAll = async (app: FastifyInstance): Promise<Run> => {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    // A plain 10 ms timer as a second witness: the longest wait between its callbacks.
    let tick = performance.now();
    let tickMaxMs = 0;
    const ticker = setInterval(() => {
      const t = performance.now();
      tickMaxMs = Math.max(tickMaxMs, t - tick);
      tick = t;
    }, 10);
    const from = Date.now();
    const bodies: string[] = [];
    for (let i = 0; i < BUILDS; i++) {
      const res = await app.inject(`/api/v1/units/${HEAVY_UNIT}/evidence/${HEAVY_MONTH}`);
      expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
      bodies.push(res.body);
    }
    const to = Date.now();
    // One more turn of the loop, so a delay that ended with the last build is recorded.
    await new Promise((r) => setTimeout(r, 50));
    h.disable();
    clearInterval(ticker);
    // The histogram samples when the loop turns: a loop blocked for the whole build gives it one or
    // two samples and no record of the block, which the plain timer sees.
    return {
      from,
      to,
      bodies,
      loopMaxMs: Math.max(h.max / 1e6, tickMaxMs),
      loopP99Ms: h.count > 0 ? h.percentile(99) / 1e6 : 0,
      samples: h.count,
    };
  };

  /**
   * The polled point's stored readings over the builds `[from, to]`: how many have a source time inside,
   * and the largest gap between consecutive ones of those gaps that overlap `[from, to]` (the readings
   * just before and after count, so a stall over the whole window is one gap). Call once polling has
   * resumed after `to`.
   */
  const pollGaps = async (from: number, to: number) => {
    const rows = await store.rawReadings({ unitId, pointId: POLLED, from: from - 120_000, to: to + 120_000 });
    const ts = rows.map((r) => r.ts);
    let maxGap = 0;
    for (let i = 1; i < ts.length; i++) {
      const [a, b] = [ts[i - 1] as number, ts[i] as number];
      if (b >= from && a <= to) maxGap = Math.max(maxGap, b - a);
    }
    return { maxGap, inside: ts.filter((t) => t >= from && t <= to).length };
  };

  /** Waits until the polled point has a stored reading later than `after` at most 3 s old. */
  const polling = async (after: number) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const rows = await store.rawReadings({ unitId, pointId: POLLED, from: after, to: Date.now() + 1000 });
      const last = rows.at(-1);
      if (last !== undefined && Date.now() - last.ts < 3000) return;
      if (Date.now() > deadline) throw new Error(`${POLLED}: no fresh reading stored within 120 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeAll(async () => {
    store = new SqliteStore({ path: file });
    await store.start();
    stops.push(() => store.stop());
    seeded = await seedHeavyMonth(store, { points: POINTS, days: DAYS });
    loadEvidenceKey(keyFile, true);

    const sim = await startAluminiumSimulator({ seed: 3 });
    stops.push(() => sim.stop());
    // The example's pot-line device alone, on the simulator's port, polled every second.
    const doc = parseDocument(readFileSync(SITE_FILE, 'utf8'));
    const devices = doc.toJS().devices as { id: string }[];
    for (let i = devices.length - 1; i >= 0; i--)
      if (devices[i]?.id !== 'potline') doc.deleteIn(['devices', i]);
    doc.setIn(['devices', 0, 'port'], sim.ports.potline);
    doc.setIn(['devices', 0, 'pollIntervalMs'], 1000);
    // A busy machine may answer late; a late answer must not turn into a bad reading and a reconnect.
    doc.setIn(['devices', 0, 'timeoutMs'], 15_000);
    polledSite = parseSiteConfig(String(doc), 'aluminium-smelter.site.yaml');
    unitId = polledSite.site.unit.id;

    const broker = await startEmbeddedBroker({ port: 0, accounts: 'anonymous', log });
    stops.unshift(() => broker.stop());
    const collector = new Collector({
      url: broker.url,
      store,
      live: new LiveHub(),
      log,
      clientId: 'nostall-collector',
    });
    await collector.start();
    stops.unshift(() => collector.stop());
    const gateway = new Gateway({ site: polledSite, log, mqttUrl: broker.url, bufferDir: null });
    await gateway.start();
    stops.unshift(() => gateway.stop());
    await polling(0);
  }, 300_000);

  afterAll(async () => {
    for (const stop of stops) await stop().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  let inWorker: Run | undefined;

  it('leaves no gap > 1.5 s in the polled readings while a worker builds the month', async () => {
    const app = server(1);
    await app.ready();
    const run = await buildAll(app);
    inWorker = run;
    await polling(run.to);
    const gaps = await pollGaps(run.from, run.to);
    const seconds = (inWorker.to - inWorker.from) / 1000;
    console.log(
      `evidence in a worker: ${BUILDS} builds of ${seeded} readings in ${seconds.toFixed(1)} s; polled ${gaps.inside} readings meanwhile, largest gap ${gaps.maxGap} ms; event loop delay max ${inWorker.loopMaxMs.toFixed(0)} ms, p99 ${inWorker.loopP99Ms.toFixed(0)} ms (${inWorker.samples} samples)`,
    );
    // The builds overlapped the polling: they lasted several poll intervals, with readings stored all along.
    expect(seconds).toBeGreaterThan(3);
    expect(gaps.inside).toBeGreaterThanOrEqual(Math.floor(seconds) - 1);
    // A reading's time is when its answer came (drivers/modbus/driver.ts): its gap to the previous one is
    // the interval plus the jitter of two answers and a timer, which a loaded 2-core machine stretches
    // on its own. Only when a gap passed 1.5 s is the machine asked what it gives with no build at all:
    // the same length of polling right after, whose largest gap then bounds what the build may show.
    let bound = MAX_GAP_MS;
    if (gaps.maxGap > MAX_GAP_MS) {
      const from = Date.now();
      await new Promise((r) => setTimeout(r, run.to - run.from));
      const to = Date.now();
      await polling(to);
      const baseline = await pollGaps(from, to);
      console.log(`no build, the same ${seconds.toFixed(1)} s of polling: largest gap ${baseline.maxGap} ms`);
      bound = Math.max(MAX_GAP_MS, baseline.maxGap);
    }
    expect(gaps.maxGap).toBeLessThanOrEqual(bound);

    // The evidence came back right: the month's readings, signed by the server's key, the same each time.
    const pkg = JSON.parse(inWorker.bodies[0] as string) as EvidencePackage;
    expect(pkg.rawData?.readings).toBe(seeded);
    expect(verifyEvidenceSignature(pkg, [trustedOf(loadEvidenceKey(keyFile, false), 'test')]).ok).toBe(true);
    for (const b of inWorker.bodies) expect(b).toBe(inWorker.bodies[0]);
  }, 600_000);

  it('the control: the same build on the event loop stalls the polling, and gives the same package', async () => {
    expect(inWorker).toBeDefined();
    const app = server(0);
    await app.ready();
    const run = await buildAll(app);
    await polling(run.to);
    const gaps = await pollGaps(run.from, run.to);
    console.log(
      `evidence on the event loop: ${BUILDS} builds in ${((run.to - run.from) / 1000).toFixed(1)} s; largest poll gap ${gaps.maxGap} ms; event loop delay max ${run.loopMaxMs.toFixed(0)} ms, p99 ${run.loopP99Ms.toFixed(0)} ms (${run.samples} samples)`,
    );
    expect(gaps.maxGap).toBeGreaterThan(MAX_GAP_MS);
    expect(run.loopMaxMs).toBeGreaterThan(MAX_GAP_MS);
    expect(run.bodies[0]).toBe(inWorker?.bodies[0]);
  }, 600_000);
});
