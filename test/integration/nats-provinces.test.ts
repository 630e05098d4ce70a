// Province partitions on NATS JetStream (core/schema/province.ts, cli/nats-options.ts): on one real
// nats-server, two province collectors made as `mrv collector --transport nats --province P` makes
// them each make and consume their own province's stream (`MRV_BATCHES_44` over `mrv.v1.44.*.*.data|backlog`,
// `MRV_BATCHES_32`), fed by gateways speaking MQTT to the node's MQTT listener under their province's
// prefix. Each stores exactly its own province's batches, each batch once; a batch a misconfigured
// gateway of province 32 publishes under province 44 is refused by collector 44 (dead-lettered,
// counted, acknowledged to JetStream so it does not circle, no store acknowledgement to the gateway).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { connect } from 'nats';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { generateGatewayKey } from '../../cli/keygen.ts';
import { natsSourceFrom } from '../../cli/nats-options.ts';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { DEFAULT_CONSUMER } from '../../collector/nats-streams.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { provinceTopicPrefix } from '../../core/schema/province.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { buildBatches, publishAll } from '../../simulators/gateway-traffic.ts';
import { until } from '../faults/harness.ts';
import { startNatsCluster } from '../helpers/nats.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const registry = new UnitRegistry([
  { id: 'U44', name: '粤厂', industry: 'cement', province: '44', gateways: ['gw44'] },
  { id: 'U32', name: '苏厂', industry: 'cement', province: '32', gateways: ['gw32'] },
]);
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('province collectors on one NATS JetStream', () => {
  it('each consumes its own province stream and stores its own batches once', async () => {
    const cluster = await startNatsCluster({ nodes: 1 });
    cleanups.push(() => cluster.stop());
    const node = cluster.nodes[0] as NonNullable<(typeof cluster.nodes)[0]>;
    const dir = mkdtempSync(path.join(tmpdir(), 'mrv-nats-prov-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keysDir = path.join(dir, 'keys');
    const k44 = generateGatewayKey({ gatewayId: 'gw44', unitId: 'U44', outDir: keysDir });
    const k32 = generateGatewayKey({ gatewayId: 'gw32', unitId: 'U32', outDir: keysDir });

    const collectors = new Map<string, Collector>();
    const stores = new Map<string, SqliteStore>();
    for (const province of ['44', '32']) {
      const store = new SqliteStore({ path: path.join(dir, `${province}.sqlite`) });
      await store.start();
      cleanups.push(() => store.stop());
      // What `mrv collector --province P --transport nats` puts together (cli/commands.ts).
      const extra = {
        clientId: `collector-${province}`,
        province,
        topicPrefix: provinceTopicPrefix('mrv/v1', province),
      };
      const source = natsSourceFrom(
        {
          transport: 'nats',
          'nats-servers': cluster.urls.join(','),
          'nats-replicas': '1',
          'nats-ack-wait': '5',
        },
        extra,
        log,
      );
      const c = new Collector({
        url: '',
        store,
        log,
        keys: loadKeyRegistry(keysDir),
        units: registry,
        ...extra,
        ...(source ? { source } : {}),
      });
      await c.start();
      cleanups.push(() => c.stop());
      collectors.set(province, c);
      stores.set(province, store);
    }

    const gw = await mqtt.connectAsync(node.mqttUrl, { clientId: 'gw-probe' });
    cleanups.push(() => gw.endAsync(true));
    const acked = new Map<string, Set<number>>();
    gw.on('message', (topic, p) => {
      const set = acked.get(topic) ?? new Set<number>();
      for (const [from, to] of (JSON.parse(p.toString('utf8')) as { stored: [number, number][] }).stored)
        for (let s = from; s <= to; s++) set.add(s);
      acked.set(topic, set);
    });
    await gw.subscribeAsync({
      'mrv/v1/44/U44/gw44/ack': { qos: 1 },
      'mrv/v1/32/U32/gw32/ack': { qos: 1 },
      'mrv/v1/44/U32/gw32/ack': { qos: 1 },
    });
    const startMs = Date.parse('2026-11-01T00:00:00.000Z');
    const t44 = buildBatches({
      unitId: 'U44',
      gatewayId: 'gw44',
      batches: 20,
      readingsPerBatch: 3,
      startMs,
      privateKeyFile: k44.privateKeyFile,
    });
    const t32 = buildBatches({
      unitId: 'U32',
      gatewayId: 'gw32',
      batches: 21,
      readingsPerBatch: 3,
      startMs,
      privateKeyFile: k32.privateKeyFile,
    });
    await publishAll(node.mqttUrl, 'mrv/v1/44/U44/gw44/data', t44.payloads, 10);
    await publishAll(node.mqttUrl, 'mrv/v1/32/U32/gw32/data', t32.payloads.slice(0, 20), 10);
    // Batch 21 of province 32's gateway, sent under province 44's prefix (a wrong topicPrefix).
    await publishAll(node.mqttUrl, 'mrv/v1/44/U32/gw32/data', t32.payloads.slice(20), 1);

    const c44 = collectors.get('44') as Collector;
    const c32 = collectors.get('32') as Collector;
    await until(
      'both provinces acknowledged to their gateways, the misrouted batch refused',
      () =>
        acked.get('mrv/v1/44/U44/gw44/ack')?.size === 20 &&
        acked.get('mrv/v1/32/U32/gw32/ack')?.size === 20 &&
        c44.counters.outOfProvince === 1,
      90_000,
    );
    const s44 = stores.get('44') as SqliteStore;
    const s32 = stores.get('32') as SqliteStore;
    const seqs = async (s: SqliteStore, unitId: string, gatewayId: string) =>
      (await s.listBatchLinks({ unitId, gatewayId, limit: 100 })).map((l) => l.seq);
    const oneToTwenty = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(await seqs(s44, 'U44', 'gw44')).toEqual(oneToTwenty);
    expect(await seqs(s32, 'U32', 'gw32')).toEqual(oneToTwenty);
    expect(await seqs(s44, 'U32', 'gw32')).toEqual([]);
    expect(await seqs(s32, 'U44', 'gw44')).toEqual([]);
    expect(c44.counters.batches).toBe(20);
    expect(c32.counters.batches).toBe(20);
    expect(c32.counters.outOfProvince).toBe(0);
    expect(c44.counters.duplicates + c32.counters.duplicates).toBe(0);
    expect(acked.has('mrv/v1/44/U32/gw32/ack'), 'no store acknowledgement for the refused batch').toBe(false);

    // One stream per province, over that province's subjects; both drained (work queue), nothing pending.
    const nc = await connect({ servers: cluster.urls });
    cleanups.push(() => nc.close());
    const jsm = await nc.jetstreamManager();
    for (const p of ['44', '32']) {
      const info = await jsm.streams.info(`MRV_BATCHES_${p}`);
      expect(info.config.subjects.sort()).toEqual([`mrv.v1.${p}.*.*.backlog`, `mrv.v1.${p}.*.*.data`]);
      await until(
        `stream MRV_BATCHES_${p} drained`,
        async () => (await jsm.streams.info(`MRV_BATCHES_${p}`)).state.messages === 0,
        30_000,
      );
      const consumer = await jsm.consumers.info(`MRV_BATCHES_${p}`, DEFAULT_CONSUMER);
      expect(consumer.num_ack_pending).toBe(0);
      expect((await jsm.streams.info(`MRV_GATEWAYS_${p}`)).config.subjects.sort()).toEqual([
        `mrv.v1.${p}.*.*.meta`,
        `mrv.v1.${p}.*.*.status`,
      ]);
    }
    const names: string[] = [];
    for await (const s of jsm.streams.list()) names.push(s.config.name);
    expect(names.filter((n) => n.startsWith('MRV_')).sort()).toEqual([
      'MRV_BATCHES_32',
      'MRV_BATCHES_44',
      'MRV_GATEWAYS_32',
      'MRV_GATEWAYS_44',
    ]);
  }, 180_000);
});
