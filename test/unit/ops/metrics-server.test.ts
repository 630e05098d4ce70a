// The ops helper that gives the gateway and the collector /healthz and /metrics: counters are read at
// scrape time, unknown counter fields still appear, store calls are timed.
import { afterEach, describe, expect, it } from 'vitest';
import type { TimeSeriesStore } from '../../../collector/store.ts';
import {
  createRegistry,
  exposeCollectorCounters,
  exposeDeviceStatus,
  exposeGatewayCounters,
  instrumentStore,
} from '../../../ops/metrics.ts';
import { type MetricsServer, startMetricsServer } from '../../../ops/metrics-server.ts';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('ops metrics server', () => {
  it('serves /healthz and the parts counters on /metrics, read at scrape time', async () => {
    const registry = createRegistry();
    const gw = {
      batchesPublished: 3,
      batchesAcked: 2,
      readings: 40,
      publishErrors: 0,
      lastSeq: 3,
      inFlight: 1,
      bufferBytes: 512,
    };
    const col = {
      batches: 2,
      readingsStored: 30,
      storeWrites: 1,
      storeErrors: 0,
      invalidPayloads: 0,
      verificationFailures: 1,
    };
    exposeGatewayCounters(registry, gw);
    exposeCollectorCounters(registry, col);
    server = await startMetricsServer({ registry, port: 0, health: () => ({ part: 'gateway' }) });
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', part: 'gateway', uptimeS: expect.any(Number) });
    gw.readings = 41;
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('mrv_gateway_points_read_total 41');
    expect(text).toContain('mrv_gateway_batches_published_total 3');
    expect(text).toContain('mrv_gateway_batches_buffered 1');
    // A counter field the ops code does not know yet still shows, as a gauge.
    expect(text).toContain('mrv_gateway_buffer_bytes 512');
    expect(text).toContain('mrv_collector_store_writes_total 1');
    expect(text).toContain('mrv_collector_verification_failures_total 1');
    expect(text).toContain('process_cpu_user_seconds_total');
    const missing = await fetch(`${server.url}/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'MRV_E_NOT_FOUND' } });
  });

  it('shows each device connected, in error and when it last answered, read at scrape time', async () => {
    const registry = createRegistry();
    const status: Record<string, import('../../../drivers/types.ts').DriverStatus> = {
      kiln: { connected: true, cycles: 12, failedRequests: 0, lastSuccessAt: 1_796_000_000_500, connects: 1 },
      feeder: {
        connected: false,
        cycles: 7,
        failedRequests: 7,
        lastError: 'MRV_E_MODBUS_TIMEOUT: x',
        drains: 3,
      },
    };
    exposeDeviceStatus(registry, () => status);
    server = await startMetricsServer({ registry, port: 0, health: () => ({ part: 'gateway' }) });
    let text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('mrv_device_connected{device="kiln"} 1');
    expect(text).toContain('mrv_device_connected{device="feeder"} 0');
    expect(text).toContain('mrv_device_error{device="kiln"} 0');
    expect(text).toContain('mrv_device_error{device="feeder"} 1');
    expect(text).toContain('mrv_device_last_success_timestamp_seconds{device="kiln"} 1796000000.5');
    // Never answered: no timestamp at all rather than 1970.
    expect(text).not.toContain('mrv_device_last_success_timestamp_seconds{device="feeder"}');
    expect(text).toContain('mrv_device_failed_requests_total{device="feeder"} 7');
    expect(text).toContain('mrv_device_poll_cycles_total{device="kiln"} 12');
    expect(text).toContain('mrv_device_line_drains_total{device="feeder"} 3');
    status.feeder = { connected: true, cycles: 8, failedRequests: 7, lastSuccessAt: 1_796_000_001_000 };
    text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('mrv_device_connected{device="feeder"} 1');
    expect(text).toContain('mrv_device_error{device="feeder"} 0');
    expect(text).toContain('mrv_device_last_success_timestamp_seconds{device="feeder"} 1796000001');
  });

  it('times store calls (write latency) without changing what they return or throw', async () => {
    const registry = createRegistry();
    const calls: string[] = [];
    const fake = {
      async writeReadings(rows: unknown[]) {
        calls.push('write');
        return rows.length;
      },
      async listUnits() {
        throw new Error('down');
      },
      start: async () => {},
    } as unknown as TimeSeriesStore;
    const store = instrumentStore(fake, registry);
    expect(await store.writeReadings([{}, {}] as never)).toBe(2);
    await expect(store.listUnits()).rejects.toThrow('down');
    const text = await registry.metrics();
    expect(text).toMatch(
      /mrv_store_operation_duration_seconds_count\{operation="writeReadings",outcome="ok"\} 1/,
    );
    expect(text).toMatch(
      /mrv_store_operation_duration_seconds_count\{operation="listUnits",outcome="error"\} 1/,
    );
    expect(calls).toEqual(['write']);
  });
});
