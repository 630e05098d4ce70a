// OPC UA recovery: the server is stopped (every session and subscription is lost with it) and
// started again on the same port; the same driver instance, never restarted, reports the outage as
// bad readings and delivers fresh data again within 30 s (issue 3: "stopping and restarting the OPC
// UA simulator resumes data within 30 s with no gateway restart"). Default reconnect settings.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/time.ts';
import { OpcuaDevice } from '../../drivers/opcua/config.ts';
import { OpcuaDriver } from '../../drivers/opcua/driver.ts';
import { type OpcuaSimulator, startOpcuaSimulator } from '../../simulators/opcua-host.ts';
import { Collected, tempDir } from '../helpers/opcua.ts';

const log = pino({ level: 'silent' });
const tmp = tempDir('mrv-opcua-recovery-');
let sim: OpcuaSimulator;
let counter = 0;
const ticker = setInterval(() => counter++, 100);

beforeAll(async () => {
  sim = await startOpcuaSimulator({
    pkiDir: `${tmp.dir}/server`,
    variables: [{ id: 'Line.Counter', dataType: 'UInt32', unit: '1', read: () => counter }],
  });
}, 60_000);

afterAll(async () => {
  clearInterval(ticker);
  await sim?.stop();
  tmp.remove();
});

async function outageAndBack(mode: 'subscription' | 'polling'): Promise<number> {
  const config = OpcuaDevice.parse({
    id: 'line',
    driver: 'opcua',
    endpointUrl: sim.endpointUrl,
    pkiDir: `${tmp.dir}/client`,
    mode,
    publishingIntervalMs: 250,
    pollIntervalMs: 250,
    points: [{ id: 'counter', nodeId: sim.nodeId('Line.Counter'), unit: '1' }],
  });
  const c = new Collected();
  const driver = new OpcuaDriver(config, { clock: systemClock, log });
  await driver.start(c.sink);
  try {
    await c.waitFor((r) => r.quality === 'good', 20_000, 'first good reading');
    await sim.stop();
    const down = await c.waitFor((r) => r.quality === 'bad', 20_000, 'the outage reported');
    expect(down.reason).toMatch(/^MRV_E_DEVICE_UNREACHABLE/);
    expect(driver.status().connected).toBe(false);
    await new Promise((r) => setTimeout(r, 2000));
    const port = sim.port;
    await sim.restart();
    expect(sim.port).toBe(port);
    const back = Date.now();
    c.clear();
    const fresh = await c.waitFor(
      (r) => r.quality === 'good' && Date.parse(r.ts) >= back - 1000,
      30_000,
      'fresh data after the restart',
    );
    const resumedMs = Date.now() - back;
    expect(Number(fresh.value)).toBeGreaterThan(0);
    // And it keeps coming: data flows, not a single stray value.
    const n = c.of('counter').filter((r) => r.quality === 'good').length;
    await c.waitFor(
      () => c.of('counter').filter((r) => r.quality === 'good').length >= n + 3,
      10_000,
      'more data',
    );
    expect(driver.status().connected).toBe(true);
    return resumedMs;
  } finally {
    await driver.stop();
  }
}

describe('opcua driver recovery after a server restart', () => {
  it('subscription: session and monitored items come back, data resumes within 30 s', async () => {
    const ms = await outageAndBack('subscription');
    expect(ms).toBeLessThan(30_000);
  }, 90_000);

  it('polling: reads resume within 30 s', async () => {
    const ms = await outageAndBack('polling');
    expect(ms).toBeLessThan(30_000);
  }, 90_000);
});
