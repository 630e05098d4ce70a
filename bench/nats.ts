/**
 * The NATS JetStream transport (docs/scale-out.md): 1 → 3 `mrv collector --transport nats` processes
 * sharing the one durable consumer of the batch stream drain the same queued backlog of signed batches
 * into one InfluxDB, on a 3-node cluster (stream R3), on a single node (R1), and, for comparison in the
 * same conditions, on Mosquitto with an MQTT shared subscription (`--share-group`). The backlog is
 * published over MQTT (QoS 1), as the gateways do, to node 1's MQTT listener. Then once more on the
 * cluster with a node SIGKILLed mid-drain: batches lost (archived vs published) and redeliveries.
 * Rates come from the members' own counters (`/metrics`), timed from the moment every member answers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { connect } from 'nats';
import { generateGatewayKey } from '../cli/keygen.ts';
import { InfluxStore } from '../collector/influx-store.ts';
import { DEFAULT_BATCH_STREAM } from '../collector/nats-streams.ts';
import { buildBatches, dataTopic, publishAll } from '../simulators/gateway-traffic.ts';
import { getFreePort } from '../test/helpers/free-port.ts';
import { startInfluxDb } from '../test/helpers/influxdb.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { type NatsCluster, startNatsCluster } from '../test/helpers/nats.ts';
import {
  type BenchResult,
  type Figure,
  fmt,
  MOSQUITTO_BENCH_CONFIG,
  metric,
  REPO_ROOT,
  sleep,
  stopChild,
  tempDir,
} from './lib.ts';

const UNIT = 'BENCH0000000003';
const GATEWAYS = ['gw-n1', 'gw-n2', 'gw-n3', 'gw-n4'];
/** Per gateway; 4 × 150 × 600 = 360 000 readings per run. */
const BATCHES = Number(process.env.BENCH_NATS_BATCHES ?? 150);
const READINGS = 600;
const TOTAL = GATEWAYS.length * BATCHES * READINGS;

/** Where the members take the batches from. */
interface Transport {
  label: string;
  /** Flags of `mrv collector` besides store, keys and metrics. */
  flags: (member: number) => string[];
  /** The MQTT URL the backlog is published to. */
  mqttUrl: string;
  /** Batches in the stream now (NATS only). */
  queued?: () => Promise<number>;
}

interface Member {
  child: ChildProcess;
  port: number;
}

async function startMembers(n: number, t: Transport, influxUrl: string, db: string, keysDir: string) {
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    const port = await getFreePort();
    const child = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, 'bin/mrv.js'),
        'collector',
        ...t.flags(i),
        '--store',
        'influx',
        '--influx',
        influxUrl,
        '--db',
        db,
        '--keys',
        keysDir,
        '--metrics-port',
        String(port),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MRV_LOG_LEVEL: 'error' } },
    );
    members.push({ child, port });
  }
  const t0 = performance.now();
  while (
    (await Promise.all(members.map((m) => metric(m.port, 'mrv_collector_acks_total')))).includes(undefined)
  ) {
    if (performance.now() - t0 > 60_000) throw new Error('collectors did not come up in 60 s');
    await sleep(50);
  }
  return members;
}

interface Run {
  label: string;
  members: number;
  pointsPerS: number;
  queued: number | undefined;
  archived: number;
  duplicates: number;
  findings: number;
}

let runNo = 0;

/**
 * Queues the backlog, starts `n` members, waits until the archive holds every batch (or `budgetMs`
 * passes: then the missing ones are the loss), and checks the archive. `during` runs once the drain
 * is under way (a node kill).
 */
async function run(
  n: number,
  t: Transport,
  influxUrl: string,
  keysDir: string,
  traffic: Buffer[][],
  during?: () => Promise<void>,
  budgetMs = 300_000,
): Promise<Run> {
  const db = `nats${++runNo}`;
  // Once first, so that the stream and the consumer (or the MQTT sessions) exist before the backlog.
  await Promise.all((await startMembers(n, t, influxUrl, db, keysDir)).map((m) => stopChild(m.child)));
  await Promise.all(GATEWAYS.map((g, i) => publishAll(t.mqttUrl, dataTopic(UNIT, g), traffic[i] ?? [], 100)));
  const queued = await t.queued?.();
  const members = await startMembers(n, t, influxUrl, db, keysDir);
  const stored = async () =>
    (await Promise.all(members.map((m) => metric(m.port, 'mrv_collector_readings_stored_total')))).reduce(
      (a: number, b) => a + (b ?? 0),
      0,
    );
  const store = new InfluxStore({ url: influxUrl, database: db });
  await store.start();
  const archived = async () => {
    let k = 0;
    for (const g of GATEWAYS)
      k += (await store.listBatchLinks({ unitId: UNIT, gatewayId: g, limit: BATCHES + 10 })).length;
    return k;
  };
  const t0 = performance.now();
  const s0 = await stored();
  let fired = false;
  let total = s0;
  let done = 0;
  while (total < TOTAL) {
    if (performance.now() - t0 > budgetMs) break;
    if (during && !fired && total - s0 > (TOTAL - s0) / 4) {
      fired = true;
      await during();
    }
    await sleep(100);
    total = await stored();
    // A lost batch never arrives: stop waiting once the archive has not grown for 20 s after the kill.
    if (fired && total === done && performance.now() - t0 > 20_000) {
      const a = await archived();
      await sleep(20_000);
      if ((await archived()) === a && (await stored()) === total) break;
    }
    done = total;
  }
  const s = (performance.now() - t0) / 1000;
  const duplicates = (
    await Promise.all(members.map((m) => metric(m.port, 'mrv_collector_duplicates_total')))
  ).reduce((a: number, b) => a + (b ?? 0), 0);
  await Promise.all(members.map((m) => stopChild(m.child)));
  const k = await archived();
  for (const g of GATEWAYS) {
    const links = await store.listBatchLinks({ unitId: UNIT, gatewayId: g, limit: BATCHES + 10 });
    if (new Set(links.map((l) => l.seq)).size !== links.length) throw new Error(`${g}: a seq archived twice`);
  }
  const findings = (await store.listFindings(UNIT, 0, Date.UTC(2030, 0, 1), { source: 'integrity' })).length;
  await store.stop();
  return {
    label: t.label,
    members: n,
    pointsPerS: (total - s0) / s,
    queued,
    archived: k,
    duplicates,
    findings,
  };
}

function natsTransport(cluster: NatsCluster, replicas: number, label: string): Transport {
  return {
    label,
    mqttUrl: cluster.nodes[0]?.mqttUrl as string,
    flags: (i) => [
      '--transport',
      'nats',
      '--nats-servers',
      cluster.urls.join(','),
      '--nats-replicas',
      String(replicas),
      '--nats-ack-wait',
      '10',
      '--client-id',
      `bench-nats-${i + 1}`,
    ],
    queued: async () => {
      const nc = await connect({ servers: cluster.urls });
      try {
        return (await (await nc.jetstreamManager()).streams.info(DEFAULT_BATCH_STREAM)).state.messages;
      } finally {
        await nc.close();
      }
    },
  };
}

export async function benchNats(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('nats');
  const keysDir = path.join(dir, 'keys');
  const traffic = GATEWAYS.map((gatewayId) => {
    const key = generateGatewayKey({ gatewayId, unitId: UNIT, outDir: keysDir });
    return buildBatches({
      unitId: UNIT,
      gatewayId,
      batches: BATCHES,
      readingsPerBatch: READINGS,
      startMs: Date.UTC(2026, 10, 1),
      privateKeyFile: key.privateKeyFile,
    }).payloads;
  });
  const influx = await startInfluxDb();
  const runs: Run[] = [];
  const report = (r: Run) => {
    console.log(
      `${r.label}, ${r.members} collector(s): ${fmt(r.pointsPerS)} readings/s, ${fmt(r.pointsPerS / READINGS)} batches/s, queued ${r.queued ?? '-'}, archived ${r.archived}, duplicates ${r.duplicates}, findings ${r.findings}`,
    );
    runs.push(r);
  };
  let kill: Run | undefined;
  try {
    for (const [nodes, replicas, label] of [
      [3, 3, 'NATS 3 nodes, R3'],
      [1, 1, 'NATS 1 node, R1'],
    ] as const) {
      const cluster = await startNatsCluster({ nodes });
      try {
        const t = natsTransport(cluster, replicas, label);
        for (const n of nodes === 3 ? [1, 2, 3] : [1, 3]) {
          // Each run its own stream: the previous run's consumer and stream are removed.
          report(await run(n, t, influx.url, keysDir, traffic));
          const nc = await connect({ servers: cluster.urls });
          await (await nc.jetstreamManager()).streams.delete(DEFAULT_BATCH_STREAM);
          await nc.close();
        }
        if (nodes === 3) {
          // Node 3 (not the publisher's, maybe the stream leader) SIGKILLed a quarter into the drain.
          kill = await run(
            2,
            { ...t, label: `${label}, node 3 killed mid-drain` },
            influx.url,
            keysDir,
            traffic,
            () => (cluster.nodes[2] as NonNullable<(typeof cluster.nodes)[2]>).kill9(),
          );
          report(kill);
        }
      } finally {
        await cluster.stop();
      }
    }
    const mosquitto = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
    try {
      const t: Transport = {
        label: 'Mosquitto, $share',
        mqttUrl: mosquitto.url,
        flags: (i) => [
          '--mqtt',
          mosquitto.url,
          '--client-id',
          `bench-mq-${runNo}-${i + 1}`,
          '--share-group',
          `b${runNo}`,
        ],
      };
      for (const n of [1, 3]) report(await run(n, t, influx.url, keysDir, traffic));
    } finally {
      await mosquitto.stop();
    }
  } finally {
    await influx.stop();
  }
  const expected = GATEWAYS.length * BATCHES;
  const figures: Figure[] = runs.flatMap((r) => [
    {
      name: `${r.label}: ${r.members} collector(s) → InfluxDB`,
      value: fmt(r.pointsPerS),
      unit: `readings/s (${fmt(r.pointsPerS / READINGS, 1)} batches/s)`,
    },
    {
      name: `${r.label}, ${r.members} collector(s): batches archived (expected ${fmt(expected)}), redeliveries recognised, integrity findings`,
      value: `${fmt(r.archived)}, ${r.duplicates}, ${r.findings}`,
      target: `${fmt(expected)}, any, 0`,
      met: r.archived === expected && r.findings === 0,
    },
  ]);
  if (kill)
    figures.push({
      name: 'batches lost with a node SIGKILLed mid-drain (R3)',
      value: expected - kill.archived,
      target: '0',
      met: kill.archived === expected,
    });
  return {
    id: 'nats',
    title: 'NATS JetStream transport',
    figures,
    notes: [
      `${GATEWAYS.length} gateways × ${fmt(BATCHES)} signed, chained batches × ${READINGS} readings (${fmt(TOTAL)} readings per run), published over MQTT QoS 1 to node 1's MQTT listener (nats-server 2.9, \`mqtt {}\` with JetStream) and queued in the stream MRV_BATCHES (file storage, work-queue retention), then N \`mrv collector --transport nats\` processes sharing the durable pull consumer \`mrv-collectors\` drain it into one InfluxDB database per run. Mosquitto runs the same backlog through \`--share-group\` sessions (max_queued_messages 0). The rate is (readings stored after every member answers /metrics) ÷ (time until the members' \`mrv_collector_readings_stored_total\` add up to the total). The kill run: 2 members on the 3-node cluster, node 3 SIGKILLed once a quarter of the backlog is stored; what the archive lacks at the end is the loss.`,
      "Everything shares the machine's 2 cores (three nats-server processes, InfluxDB, the members): the figures compare the transports under the same conditions; they are not a cluster's capacity.",
    ],
    seconds: (performance.now() - t0) / 1000,
  };
}
