/**
 * Prometheus metrics shared by the long-running parts (docs/architecture.md §8 "health and Prometheus metrics on
 * every long-running part"). The parts keep plain counter objects (`gateway.counters`,
 * `collector.counters`); this module only reads them when Prometheus scrapes, so the parts know
 * nothing of prom-client.
 *
 * Names: `mrv_gateway_*`, `mrv_device_*` (per device, label `device`), `mrv_collector_*`, `mrv_store_*`, `mrv_http_*`, `mrv_sse_*`, plus
 * prom-client's default `process_*` and `nodejs_*` metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { TimeSeriesStore } from '../collector/store.ts';
import type { DriverStatus } from '../drivers/types.ts';

/** A registry with the default process and Node.js metrics. One per process part (or per test). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What a counter field of a part means: a metric name and help text. `gauge` for levels that go down. */
interface FieldMetric {
  name: string;
  help: string;
  gauge?: boolean;
}

/** Known gateway counters (gateway/gateway.ts `GatewayCounters`). */
const GATEWAY_FIELDS: Record<string, FieldMetric> = {
  readings: {
    name: 'mrv_gateway_points_read_total',
    help: 'Readings (points read from devices) put into batches',
  },
  batchesPublished: { name: 'mrv_gateway_batches_published_total', help: 'Batches handed to MQTT' },
  batchesAcked: {
    name: 'mrv_gateway_batches_acked_total',
    help: 'Batches acknowledged by the broker (PUBACK); they pace sending, a batch is released only when confirmed',
  },
  batchesConfirmed: {
    name: 'mrv_gateway_batches_confirmed_total',
    help: 'Batches a collector confirmed as stored (store acknowledgement), released from the log',
  },
  batchesResent: {
    name: 'mrv_gateway_batches_resent_total',
    help: 'Batches sent again: no collector confirmed them in time, after a reconnect, or on a sync request',
  },
  unconfirmed: {
    name: 'mrv_gateway_unconfirmed',
    help: 'Batches the broker took that no collector has confirmed as stored yet',
    gauge: true,
  },
  publishErrors: { name: 'mrv_gateway_publish_errors_total', help: 'Publishes that failed' },
  lastSeq: { name: 'mrv_gateway_last_seq', help: 'Sequence number of the newest batch', gauge: true },
  bufferBytes: {
    name: 'mrv_gateway_buffer_bytes',
    help: 'Bytes of the store-and-forward log on disk',
    gauge: true,
  },
  bufferFull: {
    name: 'mrv_gateway_buffer_full',
    help: '1 while the store-and-forward log is full (new batches refused, or oldest dropped)',
    gauge: true,
  },
  batchesFromMemory: {
    name: 'mrv_gateway_batches_from_memory_total',
    help: 'Batches the log could not take, published from memory only',
  },
  lostBatches: {
    name: 'mrv_gateway_lost_batches',
    help: 'Seqs lost by the gateway (full, dropped, torn, corrupt) and still being declared to the collector',
    gauge: true,
  },
  batchesDropped: {
    name: 'mrv_gateway_batches_dropped_total',
    help: 'Batches dropped by a full log (drop-oldest)',
  },
  batchesRefused: {
    name: 'mrv_gateway_batches_refused_total',
    help: 'Batches the log could not take (full under block, disk full, write error); their seq is declared lost',
  },
  batchesReplayed: {
    name: 'mrv_gateway_batches_replayed_total',
    help: 'Batches replayed from the log after a restart',
  },
  tornRecords: {
    name: 'mrv_gateway_torn_records_total',
    help: 'Torn last records skipped when opening the log',
  },
  corruptRecords: { name: 'mrv_gateway_corrupt_records_total', help: 'Corrupt records found in the log' },
  inFlight: {
    name: 'mrv_gateway_batches_buffered',
    help: 'Batches in the store-and-forward log not yet released (not yet confirmed stored by a collector)',
    gauge: true,
  },
};

/** Known collector counters (collector/collector.ts `CollectorCounters`). */
const COLLECTOR_FIELDS: Record<string, FieldMetric> = {
  batches: { name: 'mrv_collector_batches_total', help: 'Valid batches received' },
  readingsStored: { name: 'mrv_collector_readings_stored_total', help: 'Readings written to the store' },
  invalidPayloads: {
    name: 'mrv_collector_invalid_payloads_total',
    help: 'Payloads rejected to the dead-letter topic',
  },
  storeWrites: { name: 'mrv_collector_store_writes_total', help: 'Store write calls that succeeded' },
  storeErrors: { name: 'mrv_collector_store_errors_total', help: 'Store write calls that failed' },
  metaMessages: { name: 'mrv_collector_meta_messages_total', help: 'Catalogue (meta) messages received' },
  rejectedMetas: {
    name: 'mrv_collector_rejected_metas_total',
    help: "Catalogues (meta) refused: unsigned, wrongly signed or another unit's (MRV_F_META_REJECTED), sent to the dead-letter topic",
  },
  statusMessages: { name: 'mrv_collector_status_messages_total', help: 'Status messages received' },
  duplicates: {
    name: 'mrv_collector_duplicates_total',
    help: 'Redelivered batches recognised and written once',
  },
  findingsRaised: { name: 'mrv_collector_findings_raised_total', help: 'Integrity findings raised' },
  acks: { name: 'mrv_collector_acks_total', help: 'MQTT acknowledgements sent after the store write' },
  storeAcks: {
    name: 'mrv_collector_store_acks_total',
    help: 'Store acknowledgements published to gateways (one per gateway per store write)',
  },
  syncRequests: {
    name: 'mrv_collector_sync_requests_total',
    help: 'Re-send requests to all gateways: a session started without state at the broker',
  },
  rejectedBatches: {
    name: 'mrv_collector_rejected_batches_total',
    help: 'Batches signed by a key of another unit or gateway (MRV_F_KEY_MISMATCH), sent to the dead-letter topic',
  },
  outOfProvince: {
    name: 'mrv_collector_out_of_province_total',
    help: "Messages of a unit the unit registry does not place in the collector's --province, sent to the dead-letter topic, stored nowhere",
  },
  verificationFailures: {
    name: 'mrv_collector_verification_failures_total',
    help: 'Batches whose signature or hash chain did not verify',
  },
  auditRounds: {
    name: 'mrv_collector_audit_rounds_total',
    help: 'Chain-audit rounds completed (collectors in a share group)',
  },
  auditedBatches: {
    name: 'mrv_collector_audited_batches_total',
    help: 'Archived batches walked by the chain audit (collectors in a share group)',
  },
};

function snake(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Exposes every numeric field of `counters` on `registry`, read at scrape time. Known fields get the
 * names above; a field added later by the part appears as a gauge `${prefix}_${snake_case}`, so a
 * new counter is never silently missing.
 * @param prefix `mrv_gateway` or `mrv_collector`
 */
export function exposeCounters(
  registry: Registry,
  prefix: string,
  counters: object,
  known: Record<string, FieldMetric> = {},
): void {
  const source = counters as Record<string, unknown>;
  const seen = new Set<string>();
  const add = (field: string) => {
    if (seen.has(field)) return;
    seen.add(field);
    const m = known[field] ?? {
      name: `${prefix}_${snake(field)}`,
      help: `${prefix} counter ${field}`,
      gauge: true,
    };
    const read = () => {
      const v = source[field];
      return typeof v === 'number' && Number.isFinite(v) ? v : 0;
    };
    if (m.gauge) {
      new Gauge({
        name: m.name,
        help: m.help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    } else {
      new Counter({
        name: m.name,
        help: m.help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    }
  };
  for (const [field, value] of Object.entries(source)) if (typeof value === 'number') add(field);
}

/** Exposes a gateway's counters (`gateway.counters`). */
export function exposeGatewayCounters(registry: Registry, counters: object): void {
  exposeCounters(registry, 'mrv_gateway', counters, GATEWAY_FIELDS);
}

/**
 * Exposes the state of every device driver of a gateway (`Gateway.deviceStatus()`, read at scrape
 * time), one series per device id (label `device`):
 * - `mrv_device_connected` 1 while the device's connection or serial port is open, else 0;
 * - `mrv_device_error` 1 while the device's last poll cycle had a failed request, else 0;
 * - `mrv_device_last_success_timestamp_seconds` when a request last succeeded (Unix time, seconds;
 *   absent until the first), so `time() - …` alerts on a device that has gone quiet;
 * - `mrv_device_failed_requests_total`, `mrv_device_poll_cycles_total`;
 * - `mrv_device_connects_total` connections opened (a count that grows fast means reconnects),
 *   `mrv_device_line_drains_total` RTU line drains after timeouts, rejected answers or stray bytes
 *   (for devices sharing one port or converter, the shared link's counts).
 * @param status the drivers' states by device id
 */
export function exposeDeviceStatus(registry: Registry, status: () => Record<string, DriverStatus>): void {
  const gauge = (name: string, help: string, value: (s: DriverStatus) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['device'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [device, s] of Object.entries(status())) {
          const v = value(s);
          if (v !== undefined && Number.isFinite(v)) this.set({ device }, v);
        }
      },
    });
  const counter = (name: string, help: string, value: (s: DriverStatus) => number | undefined) =>
    new Counter({
      name,
      help,
      labelNames: ['device'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [device, s] of Object.entries(status())) {
          const v = value(s);
          if (v !== undefined && Number.isFinite(v)) this.inc({ device }, v);
        }
      },
    });
  gauge('mrv_device_connected', '1 while the device connection (socket, serial port) is open', (s) =>
    s.connected ? 1 : 0,
  );
  gauge('mrv_device_error', "1 while the device's last poll cycle had a failed request", (s) =>
    s.lastError === undefined ? 0 : 1,
  );
  gauge(
    'mrv_device_last_success_timestamp_seconds',
    'When a request to the device last succeeded, Unix time in seconds',
    (s) => (s.lastSuccessAt === undefined ? undefined : s.lastSuccessAt / 1000),
  );
  counter(
    'mrv_device_failed_requests_total',
    'Requests that failed after all retries',
    (s) => s.failedRequests,
  );
  counter('mrv_device_poll_cycles_total', 'Completed poll cycles', (s) => s.cycles);
  counter(
    'mrv_device_connects_total',
    'Connections opened to the device (or its shared port)',
    (s) => s.connects,
  );
  counter(
    'mrv_device_line_drains_total',
    'RTU line drains after a timeout, a rejected answer or stray bytes',
    (s) => s.drains,
  );
}

/** Exposes a collector's counters (`collector.counters`). */
export function exposeCollectorCounters(registry: Registry, counters: object): void {
  exposeCounters(registry, 'mrv_collector', counters, COLLECTOR_FIELDS);
}

/**
 * Wraps a store so that every call of a method returning a promise (`writeReadings`, `listUnits`,
 * `series`, ...) is timed into `mrv_store_operation_duration_seconds{operation, outcome}`: write latency for the
 * collector, query latency for the server. The store is otherwise untouched (`start`/`stop` pass
 * through untimed).
 */
export function instrumentStore<S extends TimeSeriesStore>(store: S, registry: Registry): S {
  const name = 'mrv_store_operation_duration_seconds';
  const histogram =
    (registry.getSingleMetric(name) as Histogram<'operation' | 'outcome'> | undefined) ??
    new Histogram({
      name,
      help: 'Time-series store calls (writes by the collector, queries by the server), seconds',
      labelNames: ['operation', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'start' || prop === 'stop') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (...args: unknown[]) => {
        const started = performance.now();
        const result = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        const observe = (outcome: string) =>
          histogram.observe({ operation: prop, outcome }, (performance.now() - started) / 1000);
        return result.then(
          (v) => {
            observe('ok');
            return v;
          },
          (err: unknown) => {
            observe('error');
            throw err;
          },
        );
      };
    },
  });
}
