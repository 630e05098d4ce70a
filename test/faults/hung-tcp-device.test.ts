/**
 * A Modbus TCP device that accepts connections and never answers (issue 16): every timeout makes
 * the driver reconnect, and modbus-serial's close() only half-closes its socket (`end()`), so each
 * reconnect used to leave a descriptor behind (~0.5 fd/s at the defaults, EMFILE after ~33 min at
 * a 1024 limit) and the half-open socket kept the process alive after stop.
 *
 * Here a 100 ms timeout makes many reconnects in a short window (40 s; a 10-minute run is
 * scripts/fd-soak.ts): the number of open descriptors must stay flat while hundreds of connections
 * come and go.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/time.ts';
import { ModbusTcpDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { type HungDevice, openFds, startHungDevice } from '../helpers/hung-device.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { spawnTied } from '../helpers/tied-process.ts';
import { GATEWAY, MRV, root, UNIT, until, workspace } from './harness.ts';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let device: HungDevice;

beforeAll(async () => {
  device = await startHungDevice();
});
afterAll(() => device?.stop());

describe('modbus-tcp against a device that accepts and never answers', () => {
  it('keeps a flat descriptor count over 40 s of timeouts and reconnects, and stops at once', async () => {
    const config = ModbusTcpDevice.parse({
      id: 'hung',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: device.port,
      pollIntervalMs: 20,
      timeoutMs: 100,
      retries: 0,
      reconnectDelayMs: 10,
      points: [{ id: 'p', unit: '', table: 'holding', address: 0, type: 'uint16' }],
    });
    const driver = new ModbusDriver(config, { clock: systemClock, log });
    const reasons = new Set<string>();
    let readings = 0;
    await driver.start((batch) => {
      for (const r of batch) {
        readings++;
        expect(r.quality).toBe('bad');
        reasons.add((r.reason ?? '').split(':')[0] ?? '');
      }
    });
    await sleep(3000); // warm-up: the first connections, lazy module loads
    const before = openFds();
    const acceptedBefore = device.accepted();
    let most = before;
    for (let i = 0; i < 40; i++) {
      await sleep(1000);
      most = Math.max(most, openFds());
    }
    const after = openFds();
    const reconnects = device.accepted() - acceptedBefore;
    const stopStarted = Date.now();
    await driver.stop();
    const stopMs = Date.now() - stopStarted;
    console.info(
      `hung TCP device, 40 s: fds ${before} -> ${after} (max ${most}), ${reconnects} connections accepted, ${readings} readings, stop ${stopMs} ms`,
    );
    // Not vacuous: at 100 ms per timeout this is a new connection every few hundred ms at worst.
    expect(reconnects).toBeGreaterThan(40);
    expect(after - before, `fds ${before} -> ${after}`).toBeLessThanOrEqual(5);
    expect(most - before, `fds peaked at ${most}`).toBeLessThanOrEqual(8);
    // A device that accepts and does not answer times out; it is not "unreachable" (issue 15).
    expect([...reasons]).toEqual(['MRV_E_MODBUS_TIMEOUT']);
    expect(driver.status().connected).toBe(false);
    expect(stopMs).toBeLessThan(2000);
  }, 120_000);
});

/** Value of one series in a Prometheus text page, or undefined. */
function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('mrv gateway with a hung device', () => {
  it('keeps a flat fd count, shows the device in /metrics and exits 0 within 10 s of SIGINT', async () => {
    const mosquitto = await startMosquitto();
    const ws = workspace();
    try {
      // `fast` reconnects every 100 ms; `slow` has a request in flight for up to 4 × 20 s when the
      // signal comes, which stop() must not wait out.
      const site = path.join(ws.dir, 'site.yaml');
      const deviceYaml = (id: string, timeoutMs: number, retries: number) => `  - id: ${id}
    driver: modbus-tcp
    host: 127.0.0.1
    port: ${device.port}
    pollIntervalMs: 50
    timeoutMs: ${timeoutMs}
    retries: ${retries}
    reconnectDelayMs: 10
    points:
      - { id: ${id}.p, table: holding, address: 0, type: uint16, unit: m3, meter: m1 }
`;
      writeFileSync(
        site,
        `version: 1
unit: { id: ${UNIT}, name: Hung device unit, industry: cement, province: 北京 }
gateway:
  id: ${GATEWAY}
  mqtt: ${JSON.stringify({ keepaliveS: 2, url: mosquitto.url })}
  bufferDir: buffer
  signingKeyFile: keys/${GATEWAY}.key.pem
meters:
  - { id: m1, name: meter, kind: flowmeter }
devices:
${deviceYaml('fast', 100, 0)}${deviceYaml('slow', 20_000, 3)}`,
      );
      const gw = await spawnTied(process.execPath, [MRV, 'gateway', '-c', site, '--metrics-port', '0'], {
        cwd: root,
      });
      try {
        let url = '';
        await until('the metrics URL', () => {
          url = /gateway metrics: (\S+)\/metrics/.exec(gw.tail())?.[1] ?? '';
          return url !== '' || !gw.running();
        });
        expect(url, gw.tail()).not.toBe('');
        const scrape = async () => (await fetch(`${url}/metrics`)).text();
        await until(
          'ten reconnects of fast',
          async () => (metric(await scrape(), 'mrv_device_connects_total{device="fast"}') ?? 0) >= 10,
        );
        const before = openFds(gw.pid);
        const connectsBefore = metric(await scrape(), 'mrv_device_connects_total{device="fast"}') ?? 0;
        await sleep(30_000);
        const text = await scrape();
        const after = openFds(gw.pid);
        const reconnects = (metric(text, 'mrv_device_connects_total{device="fast"}') ?? 0) - connectsBefore;
        expect(gw.running(), gw.tail()).toBe(true);
        expect(reconnects, 'not vacuous').toBeGreaterThan(30);
        expect(after - before, `gateway fds ${before} -> ${after}`).toBeLessThanOrEqual(5);
        expect(metric(text, 'mrv_device_error{device="fast"}')).toBe(1);
        expect(metric(text, 'mrv_device_connected{device="slow"}')).toBe(1);
        expect(metric(text, 'mrv_device_last_success_timestamp_seconds{device="fast"}')).toBeUndefined();
        expect(metric(text, 'mrv_device_failed_requests_total{device="fast"}') ?? 0).toBeGreaterThan(30);

        const signalledAt = Date.now();
        gw.child.kill('SIGINT');
        const exit = await Promise.race([gw.exited, sleep(20_000).then(() => undefined)]);
        const exitMs = Date.now() - signalledAt;
        console.info(
          `mrv gateway, hung device, 30 s: fds ${before} -> ${after}, ${reconnects} reconnects; SIGINT -> exit ${JSON.stringify(exit)} in ${exitMs} ms`,
        );
        expect(exit, 'exited').toBeDefined();
        expect(exitMs).toBeLessThan(10_000);
        // 0: stopped cleanly, not by the 10 s force exit (code 1).
        expect(exit?.code, gw.tail()).toBe(0);
      } finally {
        await gw.stop();
      }
    } finally {
      ws.cleanup();
      await mosquitto.stop();
    }
  }, 120_000);
});
