/**
 * Synthetic gateway traffic for the collector's benchmarks and scale-out tests: signed, hash-chained
 * batches exactly as a gateway publishes them (core/signing.ts, docs/architecture.md §5), and a publisher that puts
 * them on the broker with QoS 1. No Modbus behind it: it stands for many gateways at once.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { type Batch, GENESIS_HASH, type Reading, topicFor } from '../core/schema/wire.ts';
import { batchHash, signBatch } from '../core/signing.ts';
import { isoMs } from '../core/time.ts';

export interface TrafficOptions {
  unitId: string;
  gatewayId: string;
  batches: number;
  readingsPerBatch: number;
  /** Source time of the first batch, ms; batches are 100 ms apart. */
  startMs: number;
  privateKeyFile: string;
  firstSeq?: number;
  prevHash?: string;
}

/** Builds the batches (JSON payloads as published) and the chain head after the last one. */
export function buildBatches(o: TrafficOptions): {
  payloads: Buffer[];
  lastHash: string;
  readings: Reading[][];
} {
  const key: KeyObject = createPrivateKey(readFileSync(o.privateKeyFile));
  const payloads: Buffer[] = [];
  const readings: Reading[][] = [];
  let prevHash = o.prevHash ?? GENESIS_HASH;
  const seq0 = o.firstSeq ?? 1;
  for (let b = 0; b < o.batches; b++) {
    const t = o.startMs + b * 100;
    const ts = isoMs(t);
    const rx = isoMs(t + 3);
    const rs: Reading[] = [];
    for (let i = 0; i < o.readingsPerBatch; i++)
      rs.push({
        point: `p${String(i).padStart(4, '0')}`,
        ts,
        rxTs: rx,
        value: String(1000 + ((b * 7 + i) % 997) / 8),
        quality: 'good',
      });
    let batch: Batch = {
      v: 1,
      unitId: o.unitId,
      gatewayId: o.gatewayId,
      seq: seq0 + b,
      prevHash,
      sentAt: rx,
      device: 'd000',
      readings: rs,
    };
    batch = signBatch(batch, key);
    prevHash = batchHash(batch);
    payloads.push(Buffer.from(JSON.stringify(batch)));
    readings.push(rs);
  }
  return { payloads, lastHash: prevHash, readings };
}

/** Publishes payloads with QoS 1, at most `window` unacknowledged; resolves when all are acknowledged. */
export async function publishAll(
  url: string,
  topic: string,
  payloads: Buffer[],
  window = 100,
): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    clientId: `bench-pub-${process.pid}-${Date.now()}`,
    clean: true,
  });
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    let inFlight = 0;
    let done = 0;
    const pump = () => {
      while (inFlight < window && next < payloads.length) {
        const p = payloads[next++] as Buffer;
        inFlight++;
        client.publish(topic, p, { qos: 1 }, (err) => {
          inFlight--;
          if (err) return reject(err);
          if (++done === payloads.length) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  await client.endAsync();
}

/** The data topic of a gateway under the default prefix `mrv/v1`. */
export function dataTopic(unitId: string, gatewayId: string): string {
  return topicFor('mrv/v1', unitId, gatewayId, 'data');
}
