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
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/time.ts';
import { ModbusTcpDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { type HungDevice, openFds, startHungDevice } from '../helpers/hung-device.ts';

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
