// Delivery end to end (issue 16 item 1): the gateway releases a batch only when a collector says it
// is stored, so brokers that drop or forget lose nothing. Debian's Mosquitto at its DEFAULT settings
// (max_queued_messages 1000, no persistence), the collector a real `mrv collector` process frozen with
// SIGSTOP for 40 s (its queue at the broker overflows: the gateway is allowed more unconfirmed
// batches than the queue holds), then the broker SIGKILLed and restarted with no state, then the
// gateway (`mrv gateway`) SIGKILLed mid-stream and restarted on its log. At the end every seq the
// gateway produced is in the store exactly once, every reading of every batch with it, no finding.
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { GatewayStatus } from '../../core/schema/wire.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { spawnTied, type TiedProcess } from '../helpers/tied-process.ts';
import {
  audit,
  GATEWAY,
  lostValues,
  MRV,
  root,
  sleep,
  spawnCollector,
  startCounterDevice,
  UNIT,
  until,
  workspace,
  writeSite,
} from './harness.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('faults: store acknowledgement against Mosquitto at its defaults', () => {
  it('stores every seq exactly once through a 40 s SIGSTOP of the collector, a broker restart without state and a gateway SIGKILL', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [device, mosquitto] = await Promise.all([startCounterDevice(), startMosquitto({ defaults: true })]);
    cleanups.push(
      () => device.close(),
      () => mosquitto.stop(),
    );
    const sqlite = path.join(ws.dir, 'store.sqlite');
    const startCollector = () =>
      spawnCollector(ws, { mqtt: mosquitto.url, sqlite, clientId: 'ack-collector', keepaliveS: 5 });
    const collector: TiedProcess = await startCollector();
    cleanups.push(() => collector.stop());
    await until('the collector subscribed', () => /collector subscribed/.test(collector.tail()), 30_000);

    const statuses: GatewayStatus[] = [];
    const sub = mqtt.connect(mosquitto.url, { clientId: 'ack-status-sub', reconnectPeriod: 200 });
    sub.on('message', (_t, p) => statuses.push(JSON.parse(p.toString()) as GatewayStatus));
    // Subscribed again on every connect: the broker forgets subscriptions when it restarts without state.
    sub.on('connect', () => sub.subscribe(`mrv/v1/${UNIT}/${GATEWAY}/status`, { qos: 1 }));
    cleanups.push(() => sub.endAsync(true));

    // 20 ms polls: ~50 batches/s, so 40 s frozen is ~2000 batches, twice the broker's queue limit. The
    // gateway may have 5000 out unconfirmed (more than the broker holds), and re-sends after 5 s.
    const site = writeSite(ws, device.port, mosquitto.url, {
      pollIntervalMs: 20,
      delivery: { maxUnconfirmed: 5000, confirmTimeoutS: 5 },
    });
    const startGateway = () =>
      spawnTied(process.execPath, [MRV, 'gateway', '-c', site], {
        cwd: root,
        env: { ...process.env, MRV_LOG_LEVEL: 'warn' },
      });
    let gateway: TiedProcess = await startGateway();
    cleanups.push(() => gateway.stop());

    const reader = new SqliteStore({ path: sqlite });
    await until('the collector made its tables', async () => {
      try {
        await reader.start();
        return (await reader.batchHeads()).length > 0;
      } catch {
        return false;
      }
    });
    cleanups.push(() => reader.stop());
    const storedSeq = async () => (await reader.batchHeads())[0]?.seq ?? 0;
    await until('the collector is storing', async () => (await storedSeq()) > 20, 30_000);

    // 1. The collector frozen for 40 s: its connection times out at the broker, which queues 1000
    //    batches for its session and drops the rest (the broker has acknowledged all of them).
    process.kill(collector.pid, 'SIGSTOP');
    const frozenAt = Date.now();
    // setTimeout may fire a millisecond before Date.now() says the time is up: sleep until it says so.
    while (Date.now() - frozenAt < 40_000) await sleep(40_000 - (Date.now() - frozenAt) + 5);
    const seqWhenThawed = statuses.filter((s) => s.state === 'online').at(-1)?.lastSeq ?? 0;
    process.kill(collector.pid, 'SIGCONT');
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(40_000);
    expect(seqWhenThawed, 'the gateway made more batches than the broker queue holds').toBeGreaterThan(1200);
    const brokerLog = await mosquitto.log();
    await until(
      'the collector stored what was made while it was frozen',
      async () => (await storedSeq()) >= seqWhenThawed,
      90_000,
    );

    // 2. The broker killed and restarted without any state: sessions, subscriptions and queues gone.
    mosquitto.kill9();
    await sleep(1000);
    await mosquitto.restart();
    await until(
      'the collector stores again after the broker restart',
      async () => (await storedSeq()) > seqWhenThawed + 100,
      60_000,
    );

    // 3. The gateway killed mid-stream, restarted on its log.
    gateway.kill9();
    await gateway.exited;
    gateway = await startGateway();
    const beforeRestart = await storedSeq();
    await until(
      'the restarted gateway is stored',
      async () => (await storedSeq()) > beforeRestart + 50,
      60_000,
    );

    // After a SIGKILL the gateway replays everything its log had not yet recorded as acknowledged (over
    // a thousand batches here; the store recognises what it holds). A stop drains for 2 s and leaves the
    // rest in the log for the next start, which on a loaded machine is most of that replay: so wait
    // until the store holds every seq up to its head before stopping, not only until the head moved.
    const archived = async () =>
      (await reader.listBatches({ unitId: UNIT, gatewayId: GATEWAY, limit: 1_000_000 })).length;
    const contiguous = async () => {
      const head = await storedSeq();
      return head > 0 && (await archived()) === head;
    };
    await until('the store holds every seq up to its head', contiguous, 180_000);

    await gateway.stop(30_000); // SIGTERM: waits for its confirmations, publishes offline with its last seq
    const offline = statuses.filter((s) => s.state === 'offline' && s.lastSeq !== undefined).at(-1);
    const lastSeq = offline?.lastSeq ?? -1;
    expect(lastSeq).toBeGreaterThan(seqWhenThawed);
    await until(
      'every batch archived',
      async () => (await storedSeq()) === lastSeq && (await contiguous()),
      120_000,
    );
    await collector.stop();

    const a = await audit(reader); // archived seqs are exactly 1..N, each once, every batch verified
    expect(a.lastSeq).toBe(lastSeq);
    expect(
      lostValues(device.served, a.values).length,
      'served but never logged (a read in flight at the kill or the stop)',
    ).toBeLessThanOrEqual(2);
    expect(
      a.findings.map((f) => f.code),
      'no integrity finding',
    ).toEqual([]);
    // The broker did drop part of the backlog: it was the store acknowledgement that brought it back.
    expect(brokerLog, `broker log:\n${brokerLog.slice(-2000)}`).toMatch(/dropp|queue/i);
  }, 480_000);
});
