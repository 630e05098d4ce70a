// NATS JetStream as the clustered transport (issue 14 items 1 and 3, docs/scale-out.md): a real gateway
// polling a Modbus counter device speaks MQTT to node 1 of a 3-node nats-server cluster (its other
// nodes as failover listeners); the batches land in the R3 stream MRV_BATCHES; two `mrv collector
// --transport nats` processes take them from the one shared durable consumer into one InfluxDB. Mid-run
// node 1, the gateway's own node, is SIGKILLed (the gateway must move to another node), then collector 1;
// both come back. Every batch seq must be stored exactly once, every reading the device
// served stored, and the gateway's log must drain (every batch confirmed by a store acknowledgement).
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../collector/influx-store.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import {
  audit,
  lostValues,
  MRV,
  root,
  startCounterDevice,
  until,
  workspace,
  writeSite,
} from '../faults/harness.ts';
import { budget } from '../helpers/budget.ts';
import { getFreePort } from '../helpers/free-port.ts';
import { startInfluxDb } from '../helpers/influxdb.ts';
import { startNatsCluster } from '../helpers/nats.ts';
import { spawnTied, type TiedProcess } from '../helpers/tied-process.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const DB = 'mrvnats';
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A collector's counter from its /metrics page (0 while it is down). */
async function metric(port: number, name: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  } catch {
    return 0;
  }
}

describe('NATS JetStream cluster transport', () => {
  it(
    'stores every batch once through node and collector kills, and the gateway log drains',
    async () => {
      const ws = workspace();
      cleanups.push(() => ws.cleanup());
      const [device, cluster, influx] = await Promise.all([
        startCounterDevice(),
        startNatsCluster({ nodes: 3 }),
        startInfluxDb(),
      ]);
      cleanups.push(
        () => device.close(),
        () => cluster.stop(),
        () => influx.stop(),
      );
      const [n1, n2, n3] = cluster.nodes as [
        (typeof cluster.nodes)[0],
        (typeof cluster.nodes)[0],
        (typeof cluster.nodes)[0],
      ];

      const metricsPorts = await Promise.all([0, 1].map(() => getFreePort()));
      const startCollector = (i: number): Promise<TiedProcess> =>
        spawnTied(
          process.execPath,
          [
            MRV,
            'collector',
            '--transport',
            'nats',
            '--nats-servers',
            cluster.urls.join(','),
            '--nats-replicas',
            '3',
            // A killed member's batches come back to the other after this.
            '--nats-ack-wait',
            '5',
            '--store',
            'influx',
            '--influx',
            influx.url,
            '--db',
            DB,
            '--keys',
            ws.keysDir,
            '--client-id',
            `nats-collector-${i + 1}`,
            '--metrics-port',
            String(metricsPorts[i]),
          ],
          { cwd: root, env: { ...process.env, MRV_LOG_LEVEL: 'info' } },
        );
      // One first, so that the stream and the consumer are made once; the second finds them.
      const procs: TiedProcess[] = [await startCollector(0)];
      cleanups.push(() => Promise.all(procs.map((p) => p.stop())));
      await until('collector 1 consuming', () => /collector subscribed/.test(procs[0]?.tail() ?? ''), 60_000);
      procs.push(await startCollector(1));
      await until('collector 2 consuming', () => /collector subscribed/.test(procs[1]?.tail() ?? ''), 60_000);

      const gateway = new Gateway({
        site: loadSiteConfig(
          writeSite(
            ws,
            device.port,
            { url: n1.mqttUrl, failoverUrls: [n2.mqttUrl, n3.mqttUrl] },
            // A store acknowledgement missed during a failover costs a re-send after 5 s.
            { delivery: { confirmTimeoutS: 5 } },
          ),
        ),
        log,
        reconnectPeriodMs: 200,
      });
      await gateway.start();
      cleanups.push(() => gateway.stop(0));
      const confirmed = () => gateway.counters.batchesConfirmed;
      const progress = async (what: string, more: number, timeoutMs = 90_000) => {
        const from = confirmed();
        await until(
          `${what}: ${more} more batches confirmed (from ${from})`,
          () => confirmed() >= from + more,
          timeoutMs,
        );
      };
      await progress('both collectors running', 40);
      await until(
        'both collectors stored batches',
        async () =>
          (await Promise.all(metricsPorts.map((p) => metric(p, 'mrv_collector_batches_total')))).every(
            (n) => n > 0,
          ),
        60_000,
      );

      // Node 1, the gateway's own node, crashes: the gateway moves on to node 2 or 3 (failoverUrls) and the
      // R3 stream keeps its quorum on nodes 2 and 3. (One node kill: a second one after node 1 is back
      // would need node 1 caught up first, and Debian's nats-server 2.9.10 can stay "not current" for
      // minutes after a kill -9 on a busy machine — a known catch-up defect of that series, seen here as
      // a 180 s timeout; docs/scale-out.md §6.)
      await n1.kill9();
      await progress('node 1 (the gateway node) down', 40, 120_000);

      // Collector 1 crashes holding unacknowledged batches: they come back to collector 2 after ack_wait.
      // What collector 1 stored before its crash (its restarted process counts from 0 again).
      const beforeCrash = (await metric(metricsPorts[0] as number, 'mrv_collector_batches_total')) ?? 0;
      procs[0]?.kill9();
      await procs[0]?.exited;
      await progress('collector 1 down', 40);

      // Both back: the node replays its store and rejoins, the collector rejoins the durable consumer.
      await n1.restart();
      procs[0] = await startCollector(0);
      await progress('node 1 and collector 1 back', 40);

      // The restarted member got the gateway's catalogue, published long before it started, from the
      // last-per-subject stream (what a retained message is to the MQTT collector).
      await until(
        'collector 1 has the catalogue again',
        async () =>
          ((await metric(metricsPorts[0] as number, 'mrv_collector_meta_messages_total')) ?? 0) >= 1,
        30_000,
      );

      // The gateway stops polling and drains its log: everything it made is confirmed stored.
      await gateway.stop(120_000);
      expect(gateway.bufferStatus().pendingBatches, 'the gateway log drained').toBe(0);
      const lastSeq = gateway.counters.lastSeq;
      expect(gateway.counters.batchesConfirmed, 'every batch confirmed by a store acknowledgement').toBe(
        lastSeq,
      );

      const store = new InfluxStore({ url: influx.url, database: DB });
      await store.start();
      cleanups.push(() => store.stop());
      const a = await audit(store); // archived seqs exactly 1..N, each once, all verified, readings match
      expect(a.lastSeq).toBe(lastSeq);
      // At most the value read when the gateway stopped (never logged) is missing.
      expect(lostValues(device.served, a.values).length).toBeLessThanOrEqual(1);
      expect(a.findings.filter((f) => f.code !== 'MRV_F_CONFIG_CHANGED').map((f) => f.code)).toEqual([]);

      // Work-queue semantics: both members stored, and redeliveries (killed member, missed acks) were
      // recognised, not stored twice (the audit above), so the members' batches add up to at least N.
      // (Collector 1 counted over both its runs: restarted on a busy machine, it may find the work already
      // pulled by collector 2 before the gateway stops.)
      const received = await Promise.all(metricsPorts.map((p) => metric(p, 'mrv_collector_batches_total')));
      expect(beforeCrash + (received[0] ?? 0), 'collector 1 stored batches').toBeGreaterThan(0);
      expect(received[1] ?? 0, 'collector 2 stored batches').toBeGreaterThan(0);
      // The four phases above each waited for 40 more confirmed batches: every phase really carried
      // traffic. (Not a rate: how many more the gateway made meanwhile depends on the machine's load;
      // 220 was a quiet box's figure and failed at load 12 with 211.)
      expect(lastSeq).toBeGreaterThanOrEqual(4 * 40);
      // Three collector starts, then the waits above (each bounded by its own until): ~1 min on a quiet box.
    },
    budget({ cliRuns: 3, inProcessMs: 420_000 }),
  );
});
