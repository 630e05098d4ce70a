// The opcua driver against a real node-opcua server (simulators/opcua-host.ts) over loopback:
// subscriptions with both timestamps, exact values, deadband, StatusCode → quality, polling and the
// fallback to polling, and user-name identity. One server for the whole file (it takes ~1 s to start).
import { readdirSync } from 'node:fs';
import net from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reading } from '../../core/schema/wire.ts';
import { systemClock } from '../../core/time.ts';
import { OpcuaDevice } from '../../drivers/opcua/config.ts';
import { OpcuaDriver } from '../../drivers/opcua/driver.ts';
import { listPki, trustCertificate } from '../../drivers/opcua/pki.ts';
import { type OpcuaSimulator, startOpcuaSimulator } from '../../simulators/opcua-host.ts';
import { Collected, tempDir } from '../helpers/opcua.ts';

const log = pino({ level: 'silent' });
const tmp = tempDir('mrv-opcua-driver-');
let sim: OpcuaSimulator;
/** A ramp the test moves by hand: +0.5 per step. */
let ramp = 100;
const started = Date.now();

beforeAll(async () => {
  sim = await startOpcuaSimulator({
    pkiDir: `${tmp.dir}/server`,
    users: { operator: 'secret-1' },
    variables: [
      { id: 'Line.Current', dataType: 'Double', unit: 'kA', read: () => 400.25 },
      { id: 'Line.Voltage', dataType: 'Float', unit: 'V', read: () => 0.1 },
      { id: 'Meter.EnergyWh', dataType: 'UInt64', unit: 'Wh', read: () => 18_446_744_073_709_551_615n },
      { id: 'Meter.Delta', dataType: 'Int64', unit: 'Wh', read: () => -9_007_199_254_740_993n },
      { id: 'Ladle.Weight', dataType: 'Int32', unit: 'kg', read: () => 31_250 },
      { id: 'Ladle.Sensor', dataType: 'Double', unit: 't', read: () => 1.5 },
      {
        id: 'Gas.Flow',
        dataType: 'Double',
        unit: 'Nm3/h',
        euRange: { low: 0, high: 1000 },
        read: () => ramp,
      },
      { id: 'Gas.Uptime', dataType: 'Double', unit: 's', read: () => (Date.now() - started) / 1000 },
    ],
  });
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  tmp.remove();
});

function device(extra: Record<string, unknown> = {}, points?: unknown[]): OpcuaDevice {
  return OpcuaDevice.parse({
    id: 'ua',
    driver: 'opcua',
    endpointUrl: sim.endpointUrl,
    pkiDir: `${tmp.dir}/client`,
    publishingIntervalMs: 100,
    samplingIntervalMs: 50,
    pollIntervalMs: 200,
    reconnectDelayMs: 200,
    points: points ?? [
      { id: 'current', nodeId: sim.nodeId('Line.Current'), unit: 'kA', meter: 'ct-1' },
      { id: 'voltage', nodeId: sim.nodeId('Line.Voltage'), unit: 'V' },
      { id: 'energy', nodeId: sim.nodeId('Meter.EnergyWh'), unit: 'kWh', scale: '0.001' },
      { id: 'delta', nodeId: sim.nodeId('Meter.Delta'), unit: 'Wh' },
      { id: 'ladle', nodeId: sim.nodeId('Ladle.Weight'), unit: 't', scale: '0.001' },
    ],
    ...extra,
  });
}

async function run<T>(config: OpcuaDevice, body: (c: Collected, d: OpcuaDriver) => Promise<T>): Promise<T> {
  const c = new Collected();
  const d = new OpcuaDriver(config, { clock: systemClock, log });
  await d.start(c.sink);
  try {
    return await body(c, d);
  } finally {
    await d.stop();
  }
}

const EXPECTED: Record<string, string> = {
  current: '400.25',
  voltage: '0.1',
  energy: '18446744073709551.615',
  delta: '-9007199254740993',
  ladle: '31.25',
};

describe('opcua driver: subscription', () => {
  it('delivers exact values with source and server timestamps, valid on the wire', async () => {
    await run(device(), async (c, d) => {
      for (const id of Object.keys(EXPECTED)) await c.waitFor((r) => r.point === id && r.quality === 'good');
      expect(d.mode).toBe('subscription');
      for (const [id, value] of Object.entries(EXPECTED)) {
        const r = c.of(id)[0] as Reading;
        expect(r.value, id).toBe(value);
        expect(Reading.safeParse(r).success, id).toBe(true);
        expect(r.serverTs, id).toBeDefined();
        expect(Math.abs(Date.parse(r.ts) - Date.now())).toBeLessThan(10_000);
      }
      expect(c.of('current')[0]?.meter).toBe('ct-1');
      // One publish response → one batch: the initial values of all five points arrive together.
      expect(c.batches.some((b) => b.length === 5)).toBe(true);
      expect(d.status().connected).toBe(true);
    });
  });

  it('maps a Bad StatusCode to a bad reading naming it, Uncertain to uncertain with the value, and back', async () => {
    await run(device({}, [{ id: 'sensor', nodeId: sim.nodeId('Ladle.Sensor'), unit: 't' }]), async (c) => {
      await c.waitFor((r) => r.quality === 'good' && r.value === '1.5');
      sim.setStatus('Ladle.Sensor', 'BadSensorFailure');
      const bad = await c.waitFor((r) => r.quality === 'bad');
      expect(bad.value).toBeNull();
      expect(bad.reason).toBe('MRV_E_OPCUA_STATUS: BadSensorFailure');
      expect(Reading.safeParse(bad).success).toBe(true);
      sim.setStatus('Ladle.Sensor', 'UncertainLastUsableValue');
      const unc = await c.waitFor((r) => r.quality === 'uncertain');
      expect(unc.value).toBe('1.5');
      expect(unc.reason).toBe('MRV_E_OPCUA_STATUS: UncertainLastUsableValue');
      sim.setStatus('Ladle.Sensor', undefined);
      c.clear();
      await c.waitFor((r) => r.quality === 'good');
    });
  });

  it('applies an absolute deadband: changes smaller than it are not reported', async () => {
    const points = [
      { id: 'flow', nodeId: sim.nodeId('Gas.Flow'), unit: 'Nm3/h', deadband: { type: 'absolute', value: 2 } },
    ];
    await run(device({}, points), async (c) => {
      ramp = 100;
      await c.waitFor((r) => r.value === '100');
      for (let i = 0; i < 3; i++) {
        ramp += 0.5; // 100.5, 101, 101.5: all within 2 of 100
        await new Promise((r) => setTimeout(r, 250));
      }
      ramp = 103; // beyond the deadband
      await c.waitFor((r) => r.value === '103');
      expect(c.of('flow').map((r) => r.value)).toEqual(['100', '103']);
    });
  });

  it('applies a percent deadband against the EURange (0–1000: 1 % = 10)', async () => {
    const points = [
      { id: 'flow', nodeId: sim.nodeId('Gas.Flow'), unit: 'Nm3/h', deadband: { type: 'percent', value: 1 } },
    ];
    await run(device({}, points), async (c, d) => {
      ramp = 200;
      await c.waitFor((r) => r.value === '200');
      expect(d.mode).toBe('subscription');
      ramp = 205;
      await new Promise((r) => setTimeout(r, 400));
      ramp = 211;
      await c.waitFor((r) => r.value === '211');
      expect(c.of('flow').map((r) => r.value)).toEqual(['200', '211']);
    });
  });

  it('without a deadband reports every change', async () => {
    await run(device({}, [{ id: 'up', nodeId: sim.nodeId('Gas.Uptime'), unit: 's' }]), async (c) => {
      await c.waitFor(() => c.of('up').length >= 5, 10_000, 'five changes');
      const ts = c.of('up').map((r) => Date.parse(r.ts));
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    });
  });
});

describe('opcua driver: polling', () => {
  it('polls every point each cycle in polling mode, unknown nodes as bad with the StatusCode', async () => {
    const points = [
      { id: 'current', nodeId: sim.nodeId('Line.Current'), unit: 'kA' },
      { id: 'ghost', nodeId: 'ns=1;s=No.Such.Node', unit: 'kA' },
    ];
    await run(device({ mode: 'polling' }, points), async (c, d) => {
      await c.waitFor(() => c.batches.length >= 3, 10_000, 'three poll cycles');
      expect(d.mode).toBe('polling');
      for (const b of c.batches) expect(b.map((r) => r.point)).toEqual(['current', 'ghost']);
      const [cur, ghost] = c.batches[0] as [Reading, Reading];
      expect(cur).toMatchObject({ quality: 'good', value: '400.25' });
      expect(cur.serverTs).toBeDefined();
      expect(ghost).toMatchObject({
        quality: 'bad',
        value: null,
        reason: 'MRV_E_OPCUA_STATUS: BadNodeIdUnknown',
      });
    });
  });

  it('falls back to polling when the server refuses the subscription', async () => {
    sim.refuseSubscriptions(true);
    try {
      await run(device(), async (c, d) => {
        await c.waitFor(() => c.batches.length >= 2, 10_000, 'two poll cycles');
        expect(d.mode).toBe('polling');
        expect(c.batches[0]?.map((r) => r.value)).toEqual(Object.values(EXPECTED));
      });
    } finally {
      sim.refuseSubscriptions(false);
    }
  });

  it('polls only the points whose monitored item the server refused', async () => {
    const points = [
      { id: 'current', nodeId: sim.nodeId('Line.Current'), unit: 'kA' },
      { id: 'ghost', nodeId: 'ns=1;s=No.Such.Node', unit: 'kA' },
    ];
    await run(device({}, points), async (c, d) => {
      await c.waitFor((r) => r.point === 'ghost');
      await c.waitFor((r) => r.point === 'current' && r.quality === 'good');
      expect(d.mode).toBe('mixed');
      expect(c.of('ghost')[0]?.reason).toBe('MRV_E_OPCUA_STATUS: BadNodeIdUnknown');
    });
  });
});

describe('opcua driver: identity', () => {
  it('activates the session with a user name and a password from the environment', async () => {
    process.env.MRV_TEST_OPCUA_PASSWORD = 'secret-1';
    const identity = { type: 'username', username: 'operator', passwordEnv: 'MRV_TEST_OPCUA_PASSWORD' };
    await run(device({ identity }), async (c) => {
      await c.waitFor((r) => r.point === 'current' && r.quality === 'good');
    });
  });

  it('activates the session with an X.509 user certificate (PEM certificate and key files)', async () => {
    // Any certificate the server accepts will do; the simulator's own one is at hand.
    const own = `${sim.pkiDir}/server/own`;
    const certFile = readdirSync(`${own}/certs`).find((f) => f.endsWith('.pem'));
    const identity = {
      type: 'certificate',
      certFile: `${own}/certs/${certFile}`,
      keyFile: `${own}/private/private_key.pem`,
    };
    await run(device({ identity, securityMode: 'Sign' }), async (c) => {
      // Sign needs the server certificate trusted first: trust whatever the first attempt rejected.
      const refused = await c.waitFor((r) => r.quality === 'bad' || r.quality === 'good');
      if (refused.quality === 'bad') {
        expect(refused.reason).toMatch(/^MRV_E_OPCUA_CERTIFICATE/);
        const rejected = listPki(`${tmp.dir}/client`).filter((e) => e.status === 'rejected');
        for (const e of rejected) trustCertificate(`${tmp.dir}/client`, e.thumbprint);
      }
      await c.waitFor((r) => r.point === 'current' && r.quality === 'good', 20_000);
    });
  });

  it('reports a wrong password as MRV_E_OPCUA_IDENTITY on every point and keeps retrying', async () => {
    process.env.MRV_TEST_OPCUA_PASSWORD = 'wrong';
    const identity = { type: 'username', username: 'operator', passwordEnv: 'MRV_TEST_OPCUA_PASSWORD' };
    await run(device({ identity }), async (c, d) => {
      const bad = await c.waitFor((r) => r.quality === 'bad');
      expect(bad.reason).toMatch(/^MRV_E_OPCUA_IDENTITY: .*BadUserAccessDenied/);
      expect(c.batches[0]).toHaveLength(5);
      expect(d.status().lastError).toMatch(/^MRV_E_OPCUA_IDENTITY/);
      // The password is fixed (e.g. rotated in the environment): the next attempt succeeds, no restart.
      process.env.MRV_TEST_OPCUA_PASSWORD = 'secret-1';
      await c.waitFor((r) => r.quality === 'good', 15_000);
    });
  });
});

describe('opcua driver: lifecycle', () => {
  it('stop() returns promptly while connecting to an endpoint that accepts TCP but never answers', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const c = new Collected();
      const d = new OpcuaDriver(device({ endpointUrl: `opc.tcp://127.0.0.1:${port}` }), {
        clock: systemClock,
        log,
      });
      await d.start(c.sink);
      await new Promise((r) => setTimeout(r, 1500));
      const t = Date.now();
      await d.stop();
      expect(Date.now() - t).toBeLessThan(5000);
      expect(d.status().connected).toBe(false);
      const n = c.batches.length;
      await new Promise((r) => setTimeout(r, 500));
      expect(c.batches.length).toBe(n);
    } finally {
      silent.close();
    }
  });
});
