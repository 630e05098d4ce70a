// The NATS source on one real nats-server node (collector/nats-source.ts, collector/nats-streams.ts):
// the stream and consumer it makes, the configuration errors it gives, a store slower than ack_wait
// that causes no redelivery (working()), and the topic ↔ subject mapping of nats-server 2.9.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { AckPolicy, connect, RetentionPolicy } from 'nats';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { generateGatewayKey } from '../../cli/keygen.ts';
import { natsSourceFrom } from '../../cli/nats-options.ts';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { NatsSource } from '../../collector/nats-source.ts';
import {
  DEFAULT_BATCH_STREAM,
  DEFAULT_CONSUMER,
  ensureStreams,
  subjectToTopic,
  topicToSubject,
} from '../../collector/nats-streams.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { MqttConfig } from '../../core/schema/site.ts';
import { buildBatches, dataTopic, publishAll } from '../../simulators/gateway-traffic.ts';
import { until } from '../faults/harness.ts';
import { startNatsCluster } from '../helpers/nats.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const UNIT = '91110000NATS00001X';
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('NATS source pieces', () => {
  it('maps topics to 2.9 subjects and back', () => {
    expect(topicToSubject('mrv/v1/U1/gw-1/data')).toBe('mrv.v1.U1.gw-1.data');
    expect(subjectToTopic('mrv.v1.U1.gw-1.ack')).toBe('mrv/v1/U1/gw-1/ack');
  });

  it('refuses bad transport flags with a clear error', () => {
    expect(natsSourceFrom({ transport: 'mqtt' }, {}, log)).toBeUndefined();
    expect(() => natsSourceFrom({ transport: 'kafka' }, {}, log)).toThrow(
      /--transport: expected mqtt or nats/,
    );
    expect(() =>
      natsSourceFrom({ transport: 'nats', 'nats-servers': 'nats://a:4222', 'nats-replicas': '2.5' }, {}, log),
    ).toThrow(/--nats-replicas: expected a whole number/);
    expect(() => natsSourceFrom({ transport: 'nats', 'nats-servers': ' , ' }, {}, log)).toThrow(
      /--nats-servers/,
    );
    expect(() =>
      natsSourceFrom({ transport: 'nats', 'nats-servers': 'nats://u:secret@a:4222' }, {}, log),
    ).toThrow(/carries a password/);
    expect(natsSourceFrom({ transport: 'nats', 'nats-servers': 'nats://a:4222' }, {}, log)).toBeInstanceOf(
      NatsSource,
    );
  });

  it('takes failover listeners in the site file, and refuses a non-URL', () => {
    const ok = MqttConfig.parse({ url: 'mqtt://10.0.0.1:1883', failoverUrls: ['mqtt://10.0.0.2:1883'] });
    expect(ok.failoverUrls).toEqual(['mqtt://10.0.0.2:1883']);
    expect(MqttConfig.safeParse({ url: 'mqtt://a:1883', failoverUrls: ['10.0.0.2:1883'] }).success).toBe(
      false,
    );
  });

  it('makes the stream and consumer once, checks them after, and says when replicas cannot be placed', async () => {
    const cluster = await startNatsCluster({ nodes: 1 });
    cleanups.push(() => cluster.stop());
    const nc = await connect({ servers: cluster.urls });
    cleanups.push(() => nc.close());
    const jsm = await nc.jetstreamManager();
    const settings = {
      topicPrefix: 'mrv/v1',
      batchStream: DEFAULT_BATCH_STREAM,
      gatewayStream: 'MRV_GATEWAYS',
      consumer: DEFAULT_CONSUMER,
      replicas: 3,
      ackWaitMs: 5000,
      maxAckPending: 64,
    };
    await expect(ensureStreams(jsm, settings)).rejects.toThrow(
      /cannot place stream MRV_BATCHES with 3 replicas.*--nats-replicas 1/,
    );
    expect(await ensureStreams(jsm, { ...settings, replicas: 1 })).toEqual({ created: true, warnings: [] });
    const info = await jsm.streams.info(DEFAULT_BATCH_STREAM);
    expect(info.config.subjects.sort()).toEqual(['mrv.v1.*.*.backlog', 'mrv.v1.*.*.data']);
    expect(info.config.retention).toBe(RetentionPolicy.Workqueue);
    // Found the second time; the consumer's ack_wait is brought to the new setting; other replicas warned.
    const again = await ensureStreams(jsm, { ...settings, replicas: 1, ackWaitMs: 7000 });
    expect(again.created).toBe(false);
    const consumer = await jsm.consumers.info(DEFAULT_BATCH_STREAM, DEFAULT_CONSUMER);
    expect(consumer.config.ack_policy).toBe(AckPolicy.Explicit);
    expect(consumer.config.ack_wait).toBe(7000 * 1_000_000);
    expect(consumer.config.max_ack_pending).toBe(64);
    // Another prefix under the same stream name is refused, not silently mixed.
    await expect(ensureStreams(jsm, { ...settings, replicas: 1, topicPrefix: 'other/v1' })).rejects.toThrow(
      /exists with subjects/,
    );
  }, 60_000);

  it('keeps batches of a store write slower than ack_wait from being redelivered, and stores each once', async () => {
    const cluster = await startNatsCluster({ nodes: 1 });
    cleanups.push(() => cluster.stop());
    const dir = mkdtempSync(path.join(tmpdir(), 'mrv-nats-src-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const key = generateGatewayKey({ gatewayId: 'gw-1', unitId: UNIT, outDir: path.join(dir, 'keys') });
    const store = new SqliteStore({ path: path.join(dir, 'store.sqlite') });
    await store.start();
    cleanups.push(() => store.stop());
    // The first write hangs 4 s: three times the consumer's ack_wait.
    let slow = true;
    const write = store.writeReadings.bind(store);
    store.writeReadings = async (rows) => {
      if (slow) {
        slow = false;
        await new Promise((r) => setTimeout(r, 4000));
      }
      return write(rows);
    };
    const collector = new Collector({
      url: '',
      store,
      log,
      clientId: 'nats-src-1',
      keys: loadKeyRegistry(path.join(dir, 'keys')),
      source: new NatsSource({ servers: cluster.urls, log, replicas: 1, ackWaitMs: 1500 }),
    });
    await collector.start();
    cleanups.push(() => collector.stop());
    // A gateway's MQTT subscription gets the store acknowledgements, published on the mapped subject.
    const node = cluster.nodes[0] as NonNullable<(typeof cluster.nodes)[0]>;
    const gw = await mqtt.connectAsync(node.mqttUrl, { clientId: 'gw-1-probe' });
    cleanups.push(() => gw.endAsync(true));
    const acked = new Set<number>();
    gw.on('message', (_t, p) => {
      for (const [from, to] of (JSON.parse(p.toString('utf8')) as { stored: [number, number][] }).stored)
        for (let s = from; s <= to; s++) acked.add(s);
    });
    await gw.subscribeAsync(`mrv/v1/${UNIT}/gw-1/ack`, { qos: 1 });
    const traffic = buildBatches({
      unitId: UNIT,
      gatewayId: 'gw-1',
      batches: 30,
      readingsPerBatch: 5,
      startMs: Date.parse('2026-11-01T00:00:00.000Z'),
      privateKeyFile: key.privateKeyFile,
    });
    await publishAll(node.mqttUrl, dataTopic(UNIT, 'gw-1'), traffic.payloads, 10);
    await until('every batch acknowledged to the gateway', () => acked.size === 30, 60_000);
    const links = await store.listBatchLinks({ unitId: UNIT, gatewayId: 'gw-1', limit: 100 });
    expect(links.map((l) => l.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(links.every((l) => l.verdict === 'verified')).toBe(true);
    const nc = await connect({ servers: cluster.urls });
    cleanups.push(() => nc.close());
    const info = await (await nc.jetstreamManager()).consumers.info(DEFAULT_BATCH_STREAM, DEFAULT_CONSUMER);
    expect(info.num_redelivered, 'working() kept the held batches from redelivery').toBe(0);
    expect(info.num_ack_pending).toBe(0);
    expect(collector.counters.duplicates).toBe(0);
    expect(collector.counters.syncRequests, 'a new stream asks the gateways to re-send').toBe(1);
  }, 120_000);
});
