// Scale-out (issue 7): three `mrv collector` processes share one MQTT shared subscription
// ($share/GROUP/...) on a real Mosquitto and write into one real InfluxDB. One of them is killed with
// SIGKILL mid-stream and restarted with its client id; nothing may be lost, nothing stored twice, and
// no gap or chain finding raised for a whole chain, while a real hole is reported, once, after its grace,
// and resolved by a member's audit when its batch arrives late; and a member is removed from the group
// for good with `--leave`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { generateGatewayKey } from '../../cli/keygen.ts';
import { InfluxStore } from '../../collector/influx-store.ts';
import type { Finding } from '../../core/schema/finding.ts';
import { buildBatches, dataTopic, publishAll } from '../../simulators/gateway-traffic.ts';
import { MRV, root, sleep, until } from '../faults/harness.ts';
import { getFreePort } from '../helpers/free-port.ts';
import { startInfluxDb } from '../helpers/influxdb.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { spawnTied, type TiedProcess } from '../helpers/tied-process.ts';

const UNIT = '91320000SHARE0001X';
const GATEWAYS = ['gw-a', 'gw-b'];
const BATCHES = 240;
const READINGS = 25;
const START = Date.parse('2026-11-01T00:00:00.000Z');
const DB = 'mrvshared';
/**
 * The audit's grace (s): longer than collector 2 is down below (its share of the batches waits in its
 * session meanwhile, a hole in the archive that is not a gap), short enough for a test.
 */
const GRACE_S = 15;
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A collector's counter from its /metrics page. */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('collectors sharing one subscription', () => {
  it('spread the batches, survive a SIGKILLed member, lose and duplicate nothing, and audit the chains', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mrv-shared-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keysDir = path.join(dir, 'keys');
    const keyFiles = GATEWAYS.map(
      (g) => generateGatewayKey({ gatewayId: g, unitId: UNIT, outDir: keysDir }).privateKeyFile,
    );
    // The benchmarks turn autosave off; here persistence is not the point either, and it costs time.
    const [mosquitto, influx] = await Promise.all([
      startMosquitto({ extraConfig: 'autosave_on_changes false\nautosave_interval 1800' }),
      startInfluxDb(),
    ]);
    cleanups.push(
      () => mosquitto.stop(),
      () => influx.stop(),
    );
    const metricsPorts = await Promise.all([0, 1, 2].map(() => getFreePort()));
    const start = (i: number, ...extra: string[]) =>
      spawnTied(
        process.execPath,
        [
          MRV,
          'collector',
          '--mqtt',
          mosquitto.url,
          '--store',
          'influx',
          '--influx',
          influx.url,
          '--db',
          DB,
          '--keys',
          keysDir,
          '--client-id',
          `collector-${i + 1}`,
          '--share-group',
          'mrv',
          '--gap-grace',
          String(GRACE_S),
          '--audit-interval',
          '1',
          '--keepalive',
          '2',
          '--metrics-port',
          String(metricsPorts[i]),
          ...extra,
        ],
        { cwd: root, env: { ...process.env, MRV_LOG_LEVEL: 'info' } },
      );
    const procs: TiedProcess[] = await Promise.all([0, 1, 2].map((i) => start(i)));
    cleanups.push(() => Promise.all(procs.map((p) => p.stop())));
    for (const [i, p] of procs.entries())
      await until(`collector ${i + 1} subscribed`, () => /collector subscribed/.test(p.tail()), 30_000);

    // Findings as they are raised, to count them on the wire too.
    const watcher = await mqtt.connectAsync(mosquitto.url, { clientId: 'findings-watcher' });
    cleanups.push(() => watcher.endAsync(true));
    const raised: Finding[] = [];
    watcher.on('message', (_t, payload) => raised.push(JSON.parse(payload.toString('utf8')) as Finding));
    await watcher.subscribeAsync('mrv/v1/_findings', { qos: 1 });

    const traffic = GATEWAYS.map((gatewayId, g) =>
      buildBatches({
        unitId: UNIT,
        gatewayId,
        batches: BATCHES + 10,
        readingsPerBatch: READINGS,
        startMs: START,
        privateKeyFile: keyFiles[g] as string,
      }),
    );
    const publish = (from: number, to: number) =>
      Promise.all(
        GATEWAYS.map((gatewayId, g) =>
          publishAll(
            mosquitto.url,
            dataTopic(UNIT, gatewayId),
            traffic[g]?.payloads.slice(from, to) ?? [],
            20,
          ),
        ),
      );

    // A third of the traffic, then collector 2 dies (SIGKILL: no flush, no PUBACK for what it holds),
    // the rest is published while it is down (its share waits in its session), then it comes back.
    await publish(0, 80);
    await until(
      'collector 2 stored something',
      async () => (await metric(metricsPorts[1] as number, 'mrv_collector_readings_stored_total')) > 0,
      20_000,
    );
    procs[1]?.kill9();
    await procs[1]?.exited;
    await publish(80, BATCHES);
    await sleep(500);
    procs[1] = await start(1);
    await until(
      'collector 2 subscribed again',
      () => /collector subscribed/.test(procs[1]?.tail() ?? ''),
      30_000,
    );

    const store = new InfluxStore({ url: influx.url, database: DB });
    await store.start();
    cleanups.push(() => store.stop());
    const archived = (gatewayId: string) =>
      store.listBatchLinks({ unitId: UNIT, gatewayId, fromSeq: 1, toSeq: BATCHES + 10 });
    await until(
      'every batch archived',
      async () => (await Promise.all(GATEWAYS.map(archived))).every((l) => l.length === BATCHES),
      60_000,
    );

    for (const gatewayId of GATEWAYS) {
      const links = await archived(gatewayId);
      expect(links.map((l) => l.seq)).toEqual(Array.from({ length: BATCHES }, (_, i) => i + 1));
      expect(links.every((l) => l.verdict === 'verified' && l.findings.length === 0)).toBe(true);
    }
    // Every reading once: per point one row per batch, at distinct times, with the published values.
    for (const point of ['p0000', 'p0013', 'p0024']) {
      const rows = await store.rawReadings({
        unitId: UNIT,
        pointId: point,
        from: START - 1,
        to: START + 1_000_000,
        limit: 10_000,
      });
      // Two gateways publish the same point names at the same times: InfluxDB keeps them apart by gateway.
      for (const [g, gatewayId] of GATEWAYS.entries()) {
        const mine = rows.filter((r) => r.gatewayId === gatewayId);
        expect(mine).toHaveLength(BATCHES);
        expect(new Set(mine.map((r) => r.ts)).size).toBe(BATCHES);
        const i = Number(point.slice(1));
        expect(mine.map((r) => r.value)).toEqual(
          traffic[g]?.readings.slice(0, BATCHES).map((rs) => rs[i]?.value),
        );
      }
    }
    // The broker spread the work: every member stored batches.
    const stored = await Promise.all(metricsPorts.map((p) => metric(p, 'mrv_collector_batches_total')));
    expect(stored.every((n) => n > 0)).toBe(true);
    // ... and shared it: no member received every batch (without $share each would get them all).
    expect(stored.every((n) => n < 0.8 * GATEWAYS.length * BATCHES)).toBe(true);

    // Audits ran in every member and found nothing to say about two whole chains.
    await until(
      'an audit round in every member after the catch-up',
      async () =>
        (await Promise.all(metricsPorts.map((p) => metric(p, 'mrv_collector_audit_rounds_total')))).every(
          (n) => n >= 2,
        ),
      20_000,
    );
    await sleep(GRACE_S * 1000 + 2000); // past the grace of any hole a member held
    const findings = await store.listFindings(UNIT, START - 60_000, START + 3_600_000);
    expect(findings.filter((f) => f.source === 'integrity')).toEqual([]);

    // A real hole: gw-b's batch 245 is never published. Reported once, after the grace.
    const b = traffic[1]?.payloads ?? [];
    await publishAll(
      mosquitto.url,
      dataTopic(UNIT, 'gw-b'),
      [...b.slice(BATCHES, 244), ...b.slice(245, 250)],
      20,
    );
    await until(
      'the hole reported',
      async () =>
        (await store.listFindings(UNIT, START - 60_000, START + 3_600_000, { code: 'MRV_F_SEQ_GAP' }))
          .length > 0,
      GRACE_S * 1000 + 20_000,
    );
    await sleep(3000); // two more audit rounds in every member
    const gaps = await store.listFindings(UNIT, START - 60_000, START + 3_600_000, { source: 'integrity' });
    expect(gaps.map((f) => [f.code, f.gatewayId, f.detail.from, f.detail.to])).toEqual([
      ['MRV_F_SEQ_GAP', 'gw-b', 245, 245],
    ]);
    expect(raised.filter((f) => f.code === 'MRV_F_SEQ_GAP').length).toBeGreaterThanOrEqual(1);
    expect(raised.filter((f) => f.code !== 'MRV_F_SEQ_GAP')).toEqual([]);

    // The hole's batch turns up late (a gateway re-sending what no store acknowledged): a member's audit
    // resolves the finding, with the time and the seq, once the links around it verify.
    const beforeLate = Date.now();
    await publishAll(mosquitto.url, dataTopic(UNIT, 'gw-b'), b.slice(244, 245), 20);
    const gapNow = async () =>
      (await store.listFindings(UNIT, START - 60_000, START + 3_600_000, { code: 'MRV_F_SEQ_GAP' }))[0];
    await until('the gap resolved', async () => (await gapNow())?.state === 'resolved', 20_000);
    const closed = (await gapNow()) as Finding;
    expect(closed.resolution).toMatchObject({
      by: 'late-batches',
      seqs: [[245, 245]],
      detail: { brokenLinks: [] },
    });
    expect(Date.parse(closed.resolvedAt as string)).toBeGreaterThanOrEqual(beforeLate - 1000);
    expect(await store.listOpenFindings(UNIT, 'MRV_F_SEQ_GAP')).toEqual([]);
    await until('the resolution published', () => raised.some((f) => f.state === 'resolved'), 5_000);
    expect(raised.filter((f) => f.code !== 'MRV_F_SEQ_GAP')).toEqual([]);

    // Decommissioning member 3: once stopped, Mosquitto still queues its share in its session...
    await procs[2]?.stop();
    const a = traffic[0]?.payloads ?? [];
    await publishAll(mosquitto.url, dataTopic(UNIT, 'gw-a'), a.slice(BATCHES, BATCHES + 6), 20);
    await sleep(1500);
    expect((await archived('gw-a')).length).toBeLessThan(BATCHES + 6);
    // ... until `--leave` takes its session over, stores what it holds, unsubscribes and exits.
    const leaving = await start(2, '--leave');
    expect((await leaving.exited).code).toBe(0);
    expect(leaving.tail()).toMatch(/collector-3 left share group mrv/);
    expect((await archived('gw-a')).length).toBe(BATCHES + 6);
    // New batches now go to the two members left only: all stored, none waits in the departed member's
    // session (where it would wait for ever; the deadline is for a loaded machine, not a measure of speed).
    await publishAll(mosquitto.url, dataTopic(UNIT, 'gw-a'), a.slice(BATCHES + 6, BATCHES + 10), 20);
    await until(
      'the last batches stored by members 1 and 2',
      async () => (await archived('gw-a')).length === BATCHES + 10,
      30_000,
    );
  }, 300_000);
});
