// Fault injection on the gateway's disk (issue 16 items 2 and 3), real parts over loopback: Mosquitto,
// the counter device over Modbus TCP, gateway and collector code in this process, the SQLite store.
//
// 1. A full disk: the store-and-forward folder is a 1 MiB tmpfs that another writer fills up (and keeps
//    full), so the log's appends fail for real, with ENOSPC or a short write. While the broker is
//    reachable the batches go out from memory; while it is not (a TCP proxy between gateway and
//    broker cut: the broker itself loses nothing it acknowledged) they are lost. Every poll cycle still gets its
//    seq, the status and `mrv_gateway_buffer_full` say `full` (also after a gateway restart on that
//    disk), the collector reports exactly the seqs that never arrived as `MRV_F_SEQ_GAP` with cause
//    `buffer_full`, and nothing reads as a broken chain or a conflict, neither to the collector nor
//    to `mrv verify`.
// 2. Bad bytes in a record of the log while the gateway is down: only that batch is lost, and the
//    collector reports its seq with cause `corrupt`.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { exportBatches } from '../../cli/verify-batches.ts';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { GatewayStatus } from '../../core/schema/wire.ts';
import { verifyChain } from '../../core/signing.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { createRegistry, exposeGatewayCounters } from '../../ops/metrics.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.ts';
import { GATEWAY, startCounterDevice, UNIT, until, workspace, writeSite } from './harness.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Writes into `file` until the file system has no byte left (ENOSPC), in ever smaller pieces. */
function eatDisk(file: string): void {
  const fd = openSync(file, 'a');
  try {
    for (const size of [65536, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          if (writeSync(fd, chunk) < size) break;
        } catch {
          break; // ENOSPC
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A proxy to the broker for the gateway, so that the link can be cut while the broker runs. */
async function brokerLink(mosquitto: MosquittoServer): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await startTcpProxy(() => ({ host: '127.0.0.1', port: mosquitto.port }));
  return { proxy, url: `mqtt://127.0.0.1:${proxy.port}` };
}

/** Starts the collector of these tests on `mosquitto` and `store`. */
async function startCollector(mosquitto: MosquittoServer, store: SqliteStore, keysDir: string, id: string) {
  const collector = new Collector({
    url: mosquitto.url,
    store,
    log,
    clientId: id,
    keys: loadKeyRegistry(keysDir),
    keepaliveS: 2,
    flushIntervalMs: 50,
    maxRetryDelayMs: 1000,
    backlogQuietMs: 500,
  });
  await collector.start();
  return collector;
}

/** Archived seqs, every archived batch's verdict, and the integrity findings of the fault gateway. */
async function readBack(store: SqliteStore) {
  const archive = await store.listBatches({ unitId: UNIT, gatewayId: GATEWAY, limit: 1_000_000 });
  const findings = await store.listFindings(UNIT, 0, Date.now() + 3_600_000);
  return { archive, seqs: archive.map((b) => b.seq), findings };
}

/** Seqs 1..last that are not in `seqs`. */
const missingOf = (seqs: number[], last: number) => {
  const have = new Set(seqs);
  return Array.from({ length: last }, (_, i) => i + 1).filter((s) => !have.has(s));
};

describe('faults: the gateway disk', () => {
  it('full disk: every cycle gets a seq, status and metrics say full (also after a restart), the seqs that never arrived are a gap with cause buffer_full, no false chain or conflict finding', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    mkdirSync(ws.bufferDir);
    mountTmpfs(ws.bufferDir, '1m');
    cleanups.push(() => unmountTmpfs(ws.bufferDir));
    const [device, mosquitto] = await Promise.all([startCounterDevice(), startMosquitto()]);
    cleanups.push(
      () => device.close(),
      () => mosquitto.stop(),
    );
    const store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
    await store.start();
    const collector = await startCollector(mosquitto, store, ws.keysDir, 'fault-collector-disk');
    cleanups.push(
      () => store.stop(),
      () => collector.stop(),
    );
    const statuses: GatewayStatus[] = [];
    const sub = await mqtt.connectAsync(mosquitto.url, {
      clientId: 'fault-status-disk',
      reconnectPeriod: 200,
    });
    sub.on('message', (_t, p) => statuses.push(JSON.parse(p.toString()) as GatewayStatus));
    await sub.subscribeAsync(`mrv/v1/${UNIT}/${GATEWAY}/status`, { qos: 1 });
    cleanups.push(() => sub.endAsync(true));

    const link = await brokerLink(mosquitto);
    cleanups.push(() => link.proxy.close());
    const site = loadSiteConfig(writeSite(ws, device.port, mosquitto.url));
    const makeGateway = () =>
      new Gateway({ site, log, mqttUrl: link.url, reconnectPeriodMs: 200, statusIntervalMs: 300 });
    let gateway = makeGateway();
    cleanups.push(() => gateway.stop(0));
    let registry = createRegistry();
    exposeGatewayCounters(registry, gateway.counters);
    const bufferFullMetric = async () =>
      (await registry.getSingleMetric('mrv_gateway_buffer_full')?.get())?.values[0]?.value;
    await gateway.start();
    await until('20 batches stored', () => collector.counters.batches >= 20);
    expect(await bufferFullMetric()).toBe(0);

    // Another writer fills the disk, and keeps it full (it takes whatever the log's releases free).
    const filler = path.join(ws.bufferDir, 'filler');
    eatDisk(filler);
    const eater = setInterval(() => eatDisk(filler), 20);
    cleanups.push(() => clearInterval(eater));

    await until(
      'the log full, batches going out from memory',
      () => gateway.counters.batchesFromMemory >= 10,
    );
    expect(gateway.counters.bufferFull).toBe(1);
    expect(await bufferFullMetric()).toBe(1);
    await until('a status saying full', () =>
      statuses.some((s) => s.state === 'online' && s.buffer?.full === true && s.buffer.policy === 'block'),
    );

    // The broker unreachable while the disk is full: nothing can take these batches; they are lost.
    link.proxy.block();
    const unsent = () => gateway.counters.batchesRefused - gateway.counters.batchesFromMemory;
    const unsentAtKill = unsent();
    await until('20 poll cycles neither logged nor sent', () => unsent() >= unsentAtKill + 20);
    link.proxy.unblock();
    const fromMemory = gateway.counters.batchesFromMemory;
    await until('batches from memory again', () => gateway.counters.batchesFromMemory >= fromMemory + 10);
    const lastBeforeRestart = gateway.counters.lastSeq;
    expect(gateway.counters.lostBatches).toBeGreaterThanOrEqual(20);

    // A gateway restart on the full disk: seq goes on (never reused), still full, still reported.
    await gateway.stop(2000);
    const statusesBefore = statuses.length;
    gateway = makeGateway();
    registry = createRegistry();
    exposeGatewayCounters(registry, gateway.counters);
    await gateway.start();
    expect(gateway.counters.lastSeq).toBeGreaterThanOrEqual(lastBeforeRestart);
    await until('the restarted gateway sends from memory', () => gateway.counters.batchesFromMemory >= 10);
    expect(gateway.counters.bufferFull).toBe(1);
    expect(await bufferFullMetric()).toBe(1);
    await until('the restarted gateway says full', () =>
      statuses.slice(statusesBefore).some((s) => s.state === 'online' && s.buffer?.full === true),
    );
    expect(gateway.bufferStatus().lost?.some((r) => r.cause === 'buffer_full')).toBe(true);

    // Room again: the log takes batches, the declarations are acknowledged and retired, full clears.
    clearInterval(eater);
    rmSync(filler);
    await until(
      'the log has room and nothing left to declare',
      () => gateway.counters.bufferFull === 0 && gateway.counters.lostBatches === 0,
    );
    expect(await bufferFullMetric()).toBe(0);
    const published = gateway.counters.batchesPublished;
    await until('10 batches logged again', () => gateway.counters.batchesPublished >= published + 10);
    await gateway.stop(5000);
    const lastSeq = gateway.counters.lastSeq;
    await until(
      'every batch that can arrive archived',
      async () => (await store.batchHeads())[0]?.seq === lastSeq,
      20_000,
    );

    // The seqs that never arrived, each in a gap finding with cause buffer_full; nothing else.
    let r = await readBack(store);
    const missing = missingOf(r.seqs, lastSeq);
    expect(missing.length, 'batches lost while the broker was down').toBeGreaterThanOrEqual(20);
    const reported = () =>
      r.findings
        .filter((f) => f.code === 'MRV_F_SEQ_GAP')
        .flatMap((f) => {
          const d = f.detail as { from: number; to: number; cause?: string };
          return Array.from({ length: d.to - d.from + 1 }, (_, i) => ({ seq: d.from + i, cause: d.cause }));
        });
    await until('the gaps reported', async () => {
      r = await readBack(store);
      return reported().length >= missing.length;
    });
    expect(
      reported()
        .map((g) => g.seq)
        .sort((a, b) => a - b),
      'exactly the missing seqs are reported',
    ).toEqual(missing);
    expect(new Set(reported().map((g) => g.cause))).toEqual(new Set(['buffer_full']));
    expect(new Set(r.findings.map((f) => f.code)), 'no finding but the declared gaps').toEqual(
      new Set(['MRV_F_SEQ_GAP']),
    );
    expect(new Set(r.seqs).size, 'no seq twice').toBe(r.seqs.length);
    expect(r.archive.filter((b) => b.verdict !== 'verified')).toEqual([]);

    // Readings: the counter only goes up (no batch stored twice, none from a reused seq).
    const rows = await store.series({
      unitId: UNIT,
      pointId: 'counter',
      from: 0,
      to: Date.now() + 3_600_000,
      limit: 1_000_000,
    });
    const values = rows.filter((x) => x.quality === 'good').map((x) => Number(x.value));
    for (let i = 1; i < values.length; i++)
      expect(values[i] as number).toBeGreaterThan(values[i - 1] as number);

    // `mrv verify` on the archive: the gaps are declared by the gateway, nothing reads as tampering.
    const keys = loadKeyRegistry(ws.keysDir);
    const check = verifyChain(
      await exportBatches(store, { unitId: UNIT, gatewayId: GATEWAY }),
      keys.get(UNIT, GATEWAY),
    );
    expect(check.problems.length).toBeGreaterThan(0);
    expect(
      check.problems.filter((p) => p.code !== 'MRV_F_SEQ_GAP' || p.declared?.cause !== 'buffer_full'),
    ).toEqual([]);
  }, 120_000);

  it('bad bytes in a logged batch while the gateway is down: only that seq is lost, reported with cause corrupt', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [device, mosquitto] = await Promise.all([startCounterDevice(), startMosquitto()]);
    cleanups.push(
      () => device.close(),
      () => mosquitto.stop(),
    );
    const store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
    await store.start();
    const collector = await startCollector(mosquitto, store, ws.keysDir, 'fault-collector-corrupt');
    cleanups.push(
      () => store.stop(),
      () => collector.stop(),
    );
    const link = await brokerLink(mosquitto);
    cleanups.push(() => link.proxy.close());
    const site = loadSiteConfig(writeSite(ws, device.port, mosquitto.url));
    let gateway = new Gateway({ site, log, mqttUrl: link.url, reconnectPeriodMs: 200 });
    cleanups.push(() => gateway.stop(0));
    await gateway.start();
    await until('10 batches stored', () => collector.counters.batches >= 10);
    // Broker unreachable: the next batches wait in the log; the gateway stops with them unsent.
    link.proxy.block();
    const atKill = gateway.counters.lastSeq;
    await until('60 batches waiting in the log', () => gateway.counters.lastSeq >= atKill + 60);
    await gateway.stop(0);
    const logged = gateway.counters.lastSeq;

    // 16 bad bytes in the payload of an unsent batch in the middle of a segment (not the newest one).
    const segs = readdirSync(ws.bufferDir)
      .filter((f) => f.startsWith('seg-'))
      .sort();
    expect(segs.length).toBeGreaterThan(1);
    const file = path.join(ws.bufferDir, segs.at(-2) as string);
    const buf = readFileSync(file);
    const records: { seq: number; offset: number }[] = [];
    for (let off = 0; off < buf.length; off += 8 + buf.readUInt32BE(off))
      if (buf[off + 8] === 1) records.push({ seq: Number(buf.readBigUInt64BE(off + 9)), offset: off });
    const victim = records[Math.floor(records.length / 2)] as { seq: number; offset: number };
    expect(victim.seq).toBeGreaterThan(atKill);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(16, 0xa5), 0, 16, victim.offset + 8 + 41 + 30);
    closeSync(fd);

    link.proxy.unblock();
    gateway = new Gateway({ site, log, mqttUrl: link.url, reconnectPeriodMs: 200 });
    await gateway.start();
    expect(gateway.bufferStatus()).toMatchObject({
      corruptRecords: 1,
      tornRecords: 0,
      lost: [{ from: victim.seq, to: victim.seq, cause: 'corrupt' }],
    });
    await until('the backlog and 10 new batches stored', async () => {
      const h = (await store.batchHeads())[0]?.seq ?? 0;
      return h >= logged + 10 && gateway.bufferStatus().pendingBatches === 0;
    });
    await gateway.stop(5000);
    const lastSeq = gateway.counters.lastSeq;
    await until('every batch archived', async () => (await store.batchHeads())[0]?.seq === lastSeq, 20_000);
    let r = await readBack(store);
    expect(missingOf(r.seqs, lastSeq), 'only the corrupt batch is missing').toEqual([victim.seq]);
    await until('the gap reported', async () => {
      r = await readBack(store);
      return r.findings.length > 0;
    });
    expect(r.findings.map((f) => ({ code: f.code, detail: f.detail }))).toEqual([
      {
        code: 'MRV_F_SEQ_GAP',
        detail: expect.objectContaining({
          from: victim.seq,
          to: victim.seq,
          cause: 'corrupt',
          declaredBy: 'gateway',
        }),
      },
    ]);
  }, 120_000);
});
