// The `mrv` command as a user runs it, as real processes: the one-command demo, and a gateway whose
// MQTT last will marks it offline when it is killed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { MAX_SIM_PORT_OFFSET } from '../../cli/demo-units.ts';
import type { GatewayStatus } from '../../core/schema/wire.ts';
import { startAluminiumSimulator } from '../../simulators/aluminium/server.ts';
import { getFreePort, getFreePortOffset } from '../helpers/free-port.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { spawnTied, type TiedProcess } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = join(root, 'bin/mrv.js');
const tmp = mkdtempSync(join(tmpdir(), 'mrv-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** How long `mrv demo` or `mrv gateway` may take to start on a loaded 2-core machine. */
const STARTUP_MS = 60_000;

async function waitForOutput(p: TiedProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = p.tail().match(re);
    if (m) return m;
    if (!p.running()) throw new Error(`process exited early:\n${p.tail()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${p.tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every port the default demo's simulators listen on (aluminium, cement, steel). */
const DEMO_SIM_PORTS = [15020, 15021, 15022, 15023, 15030, 15031, 15040, 4841];

type PointRow = { id: string; last: { ts: string; value: string | null; quality: string } | null };

describe('mrv demo', () => {
  // Timeout: start-up (STARTUP_MS), six polls of up to 20 s, then the requests and the stop.
  it('runs the aluminium, cement and steel units (Modbus TCP, RTU over TCP, OPC UA) live on the web API and stops cleanly on Ctrl-C', async () => {
    const port = await getFreePort();
    // The simulators moved off their default ports, one of which is taken: the demo runs beside
    // another demo (or anything else on 15020) when told to.
    const offset = await getFreePortOffset(DEMO_SIM_PORTS, MAX_SIM_PORT_OFFSET);
    const squatter = net.createServer();
    const squatting = await new Promise<boolean>((r) => {
      squatter.once('error', () => r(false));
      squatter.listen(15020, '127.0.0.1', () => r(true));
    });
    const demo = await spawnTied(
      process.execPath,
      [
        mrv,
        'demo',
        '--port',
        String(port),
        '--data-dir',
        join(tmp, 'demo'),
        '--sim-port-offset',
        String(offset),
      ],
      {
        cwd: root,
        env: { ...process.env, MRV_LOG_LEVEL: 'warn' },
      },
    );
    try {
      // Start-up: ~5 s on a quiet 2-core box (three simulators, an OPC UA server); the deadline is for a loaded one.
      const running = /carbon-mrv demo is running: (http:\/\/127\.0\.0\.1:\d+)/;
      const [, url] = await waitForOutput(demo, running, STARTUP_MS);
      const [, token] = await waitForOutput(demo, /admin token: (mrv_\S+)/);
      // The OPC UA trust is explicit and visible: the demo trusted its own simulator's certificate.
      expect(demo.tail()).toMatch(/the demo trusts its own steel simulator's certificate [0-9a-f]{40}/);
      const auth = { headers: { authorization: `Bearer ${token}` } };
      const page = await fetch(`${url}/`);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect((await fetch(`${url}/api/v1/units`)).status).toBe(401);
      type Unit = { id: string; industry: string };
      let units: Unit[] = [];
      // A unit is listed once its gateway's catalogue (meta) is in the store: just after start-up.
      await expect
        .poll(
          async () => {
            units = (await (await fetch(`${url}/api/v1/units`, auth)).json()) as Unit[];
            return units.map((u) => u.industry).sort();
          },
          { timeout: 10_000 },
        )
        .toEqual(['aluminium', 'cement', 'steel']);
      // The demo seeded its unit registry from its site files: every unit is registered (issue 17).
      expect(units.map((u) => (u as Unit & { registered?: boolean }).registered)).toEqual([true, true, true]);
      expect(readFileSync(join(tmp, 'demo', 'units.yaml'), 'utf8')).toMatch(/^version: 1$/m);
      const unitOf = (industry: string) => units.find((u) => u.industry === industry)?.id;
      const points = async (unitId: string | undefined) =>
        (await (await fetch(`${url}/api/v1/units/${unitId}/points`, auth)).json()) as PointRow[];
      const last = async (industry: string, point: string) =>
        (await points(unitOf(industry))).find((p) => p.id === point)?.last ?? null;
      // Each unit gets good readings from each of its protocols.
      const good = async (industry: string, point: string) => (await last(industry, point))?.quality;
      await expect.poll(() => good('aluminium', 'potline.current'), { timeout: 20_000 }).toBe('good');
      await expect.poll(() => good('cement', 'clinker.rate'), { timeout: 20_000 }).toBe('good'); // Modbus TCP
      await expect.poll(() => good('cement', 'fly_ash.rate'), { timeout: 20_000 }).toBe('good'); // RTU over TCP
      await expect.poll(() => good('steel', 'gas_cog.rate'), { timeout: 20_000 }).toBe('good'); // OPC UA
      await expect.poll(() => good('steel', 'bof1_scale.in_operation'), { timeout: 20_000 }).toBe('good'); // Modbus
      for (const industry of ['aluminium', 'cement', 'steel']) {
        const rows = await points(unitOf(industry));
        expect(
          rows.filter((p) => p.last?.quality === 'good').length,
          `${industry}: ${JSON.stringify(rows.filter((p) => p.last?.quality !== 'good').map((p) => p.id))}`,
        ).toBeGreaterThan(rows.length / 2);
      }
      const first = await last('aluminium', 'potline.current');
      expect(Number(first?.value)).toBeGreaterThan(350);
      expect(Number(first?.value)).toBeLessThan(450);
      await expect
        .poll(async () => (await last('aluminium', 'potline.current'))?.ts, { timeout: 10_000 })
        .not.toBe(first?.ts);
      // The simulators listen where the offset put them.
      expect(demo.tail()).toContain(`Modbus TCP ports ${15020 + offset}`);
      expect(demo.tail()).toContain(`opc.tcp://127.0.0.1:${4841 + offset}`);
      demo.child.kill('SIGINT');
      const exit = await demo.exited;
      expect(exit.code).toBe(0);
    } finally {
      await demo.stop();
      if (squatting) squatter.close();
    }
  }, 210_000);
});

describe('mrv gateway', () => {
  // Timeout: the servers, the gateway's start-up (STARTUP_MS), its last will, the stops.
  it('publishes a retained online status, and its last will says offline when it is killed', async () => {
    const sim = await startAluminiumSimulator({ seed: 3 });
    const mosquitto = await startMosquitto();
    try {
      const doc = parseDocument(readFileSync(join(root, 'examples/aluminium-smelter.site.yaml'), 'utf8'));
      const devices = doc.toJS().devices as { id: string }[];
      devices.forEach((d, i) => {
        const station = Object.values(sim.registerMap).find((s) => s.deviceId === d.id);
        doc.setIn(['devices', i, 'port'], station ? sim.ports[station.id] : 1);
      });
      const siteFile = join(tmp, 'site.yaml');
      writeFileSync(siteFile, String(doc));
      const statuses: GatewayStatus[] = [];
      const sub = await mqtt.connectAsync(mosquitto.url, { clientId: 'cli-test-sub' });
      sub.on('message', (topic, payload) => {
        if (topic.endsWith('/status')) statuses.push(JSON.parse(payload.toString()) as GatewayStatus);
      });
      await sub.subscribeAsync('mrv/v1/+/+/status', { qos: 1 });
      const gw = await spawnTied(
        process.execPath,
        [mrv, 'gateway', '-c', siteFile, '--mqtt', mosquitto.url],
        { cwd: root },
      );
      try {
        await expect.poll(() => statuses.at(-1)?.state, { timeout: STARTUP_MS }).toBe('online');
        gw.kill9();
        await expect.poll(() => statuses.at(-1)?.state, { timeout: 20_000 }).toBe('offline');
        // Retained: a subscriber arriving later learns the gateway is offline.
        const late = await mqtt.connectAsync(mosquitto.url, { clientId: 'cli-test-late' });
        const retained = new Promise<GatewayStatus>((resolve) =>
          late.on('message', (_t, payload) => resolve(JSON.parse(payload.toString()) as GatewayStatus)),
        );
        await late.subscribeAsync('mrv/v1/+/+/status', { qos: 1 });
        expect((await retained).state).toBe('offline');
        await late.endAsync();
      } finally {
        await gw.stop();
        await sub.endAsync();
      }
    } finally {
      await mosquitto.stop();
      await sim.stop();
    }
  }, 110_000);

  it('refuses a bad site file with the file, line and path, and exit code 1', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(join(root, 'examples/aluminium-smelter.site.yaml'), 'utf8').replace(
        /type: float32/,
        'type: float31',
      ),
    );
    const gw = await spawnTied(process.execPath, [mrv, 'gateway', '-c', bad], { cwd: root });
    const exit = await gw.exited;
    expect(exit.code).toBe(1);
    expect(gw.tail()).toMatch(/MRV_E_CONFIG: .*bad\.yaml/);
    expect(gw.tail()).toMatch(/bad\.yaml:\d+:\d+ devices\[\d+\]\.points\[\d+\]\.type: Invalid option/);
  });
});
