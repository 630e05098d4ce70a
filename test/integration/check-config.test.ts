// `mrv check-config` as a plant engineer runs it: live values from the aluminium and power simulators, located
// errors for a bad file, and a non-zero exit for devices that do not answer.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { startAluminiumSimulator } from '../../simulators/aluminium/server.ts';
import { startPowerSimulator } from '../../simulators/power/server.ts';
import { getFreePort } from '../helpers/free-port.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = join(root, 'bin/mrv.js');
const tmp = mkdtempSync(join(tmpdir(), 'mrv-check-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = await spawnTied(process.execPath, [mrv, ...args], {
    cwd: root,
    env: { ...process.env, MRV_LOG_LEVEL: 'error' },
  });
  const exit = await p.exited;
  return { code: exit.code, out: p.tail() };
}

/** Per-device answer time for the value tests: the simulators answer in ~1 ms unless the machine is starved. */
const LOADED_BOX_TIMEOUT_MS = 15_000;

/**
 * Writes a copy of an example with every device's port replaced by `portOf(device id)` and its Modbus
 * timeout (the example's 1 s) raised to {@link LOADED_BOX_TIMEOUT_MS}.
 */
function withPorts(example: string, portOf: (deviceId: string) => number): string {
  const doc = parseDocument(readFileSync(join(root, 'examples', example), 'utf8'));
  (doc.toJS().devices as { id: string }[]).forEach((d, i) => {
    doc.setIn(['devices', i, 'port'], portOf(d.id));
    doc.setIn(['devices', i, 'timeoutMs'], LOADED_BOX_TIMEOUT_MS);
  });
  const file = join(tmp, example);
  writeFileSync(file, String(doc));
  return file;
}

describe('mrv check-config', () => {
  it('prints live decoded values and quality of every point of the aluminium example', async () => {
    // Two hours of plant history: the ladle terminal's ticket memory holds tickets.
    const sim = await startAluminiumSimulator({ seed: 5, start: Date.now() - 2 * 3_600_000 });
    try {
      const file = withPorts('aluminium-smelter.site.yaml', (id) => {
        const station = Object.values(sim.registerMap).find((s) => s.deviceId === id);
        return station ? sim.ports[station.id] : 1;
      });
      const { code, out } = await run(['check-config', file, '--timeout-ms', String(LOADED_BOX_TIMEOUT_MS)]);
      expect(code, out).toBe(0);
      expect(out).toMatch(/valid \(unit 91150000DEMO00001X/);
      expect(out).toMatch(/^device\s+point\s+value\s+unit\s+quality/m);
      const current = out.match(/^potline\s+potline\.current\s+(\S+)\s+kA\s+good/m);
      expect(current, out).not.toBeNull();
      expect(Number(current![1])).toBeGreaterThan(350);
      expect(Number(current![1])).toBeLessThan(450);
      expect(out).toMatch(/^ladle-scale\s+ladle\.net\s+\d+(\.\d+)?\s+t\s+good/m);
      expect(out).toMatch(/all 4 devices answered/);
      // Every rule of the aluminium pack has its points in the example (AL-LC-002 its ticket number too).
      expect(out).not.toMatch(/^warning (no_target|missing_points|not_aligned):/m);
      const log = out.match(
        /^event log ladle-scale\/ladle-tickets: latest ticket (\d+), the ring holds (\d+) \((\d+)–(\d+), newest weighed \S+\)$/m,
      );
      expect(log, out).not.toBeNull();
      const [, latest, held, lowest, highest] = (log as RegExpMatchArray).map(Number);
      expect(highest).toBe(latest);
      expect(held).toBe((latest as number) - (lowest as number) + 1);
      expect(held).toBe(Math.min(64, (latest as number) - 260_000));
    } finally {
      await sim.stop();
    }
  });

  it('prints good live values of every point of the power example from the power simulator', async () => {
    const sim = await startPowerSimulator({ seed: 5 });
    try {
      const file = withPorts('power-plant.site.yaml', (id) => {
        const device = sim.registerMap.find((d) => d.deviceId === id);
        return device ? sim.ports[device.port] : 1;
      });
      const { code, out } = await run(['check-config', file, '--timeout-ms', String(LOADED_BOX_TIMEOUT_MS)]);
      expect(code, out).toBe(0);
      expect(out).toMatch(/valid \(unit 91320000DEMO00004X/);
      const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      for (const d of sim.registerMap)
        for (const p of d.points)
          expect(out, p.id).toMatch(
            new RegExp(
              `^${esc(d.deviceId)}\\s+${esc(p.id)}\\s+\\d+(\\.\\d+)?\\s+${esc(p.unit)}\\s+good`,
              'm',
            ),
          );
      const power = out.match(/^generator-meter\s+gen\.active_power\s+(\S+)\s+MW\s+good/m);
      expect(Number(power![1])).toBeGreaterThan(150);
      expect(Number(power![1])).toBeLessThan(270);
      // Kg resolution (0.001 t) from 123 456.789 t at the simulator's start. Trailing zeros are not printed:
      // one simulated second later it reads 123 456.800 t, shown as 123456.8 (a read that late is a slow box).
      const feederA = out.match(/^coal-feeder-a\s+feeder_a\.total\s+(\d+(?:\.\d{1,3})?)\s+t\s+good/m);
      expect(feederA, out).not.toBeNull();
      expect(Number(feederA![1])).toBeGreaterThanOrEqual(123456.789);
      expect(out).toMatch(/all 7 devices answered/);
      expect(out).not.toMatch(/^warning:/m);
      // The lab NCV is tagged power.ncv.bituminous_coal, which PW-TH-001 (on power.ncv) now selects; the
      // example has no carbon-content point, so PW-TE-001 checks nothing and says so.
      expect(out).toMatch(/^warning no_target: rule PW-TE-001 /m);
      expect(out).not.toMatch(/^warning no_target: rule PW-TH-001 /m);
    } finally {
      await sim.stop();
    }
  });

  it('exits 3 and names the devices that do not answer (power example, nothing listening)', async () => {
    // One closed port per simulator port of the example, so the devices stay distinct slaves.
    const example = parseDocument(readFileSync(join(root, 'examples', 'power-plant.site.yaml'), 'utf8'));
    const closedFor = new Map<number, number>();
    for (const d of example.toJS().devices as { port: number }[])
      if (!closedFor.has(d.port)) closedFor.set(d.port, await getFreePort());
    const portById = new Map(
      (example.toJS().devices as { id: string; port: number }[]).map((d) => [d.id, d.port]),
    );
    const file = withPorts('power-plant.site.yaml', (id) => closedFor.get(portById.get(id) ?? 0) ?? 1);
    const { code, out } = await run(['check-config', file, '--timeout-ms', '3000']);
    expect(code, out).toBe(3);
    expect(out).toMatch(
      /^generator-meter\s+gen\.active_energy_export\s+MWh\s+bad\s+\S*\s+MRV_E_DEVICE_UNREACHABLE/m,
    );
    expect(out).toMatch(/7 of 7 devices gave no good reading/);
  });

  it('warns about an unqualified parameter id and a kind without a factor before reading (issue 18)', async () => {
    const closed = await getFreePort();
    const file = withPorts('cement-plant.site.yaml', () => closed);
    // The fly ash id as the example shipped it before (no material kind); steel slag with a kind the pack lacks.
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('cement.substitute.fly_ash', 'cement.substitute')
        .replace('cement.substitute.steel_slag', 'cement.substitute.steel_slagg'),
    );
    const { out } = await run(['check-config', file, '--timeout-ms', '1000']);
    expect(out).toMatch(
      /^warning unqualified: point fly_ash\.total: parameter "cement\.substitute" needs its material/m,
    );
    expect(out).toMatch(
      /^warning MRV_W_NO_FACTOR: point steel_slag\.total: parameter cement\.substitute\.steel_slagg: factor pack cn-ets-defaults@2026\.12-1 has no cement\.deduction\.steel_slagg/m,
    );
  });

  it('warns about parameter ids the evidence would not use, and parameters no point feeds (issue 18)', async () => {
    const closed = await getFreePort();
    const file = withPorts('cement-plant.site.yaml', () => closed);
    const doc = parseDocument(readFileSync(file, 'utf8'));
    // A typo on the clinker totalizer: before, nothing said the evidence would ignore it.
    const devices = doc.toJS().devices as { points: { id: string; parameter?: string }[] }[];
    const d = devices.findIndex((x) => x.points.some((p) => p.id === 'clinker.total'));
    const j = devices[d]!.points.findIndex((p) => p.id === 'clinker.total');
    doc.setIn(['devices', d, 'points', j, 'parameter'], 'cement.clinker_outptu');
    writeFileSync(file, String(doc));
    const { out } = await run(['check-config', file, '--timeout-ms', '2000']);
    expect(out).toMatch(/valid \(unit /);
    expect(out).toMatch(
      /^warning unknown: point clinker\.total: parameter "cement\.clinker_outptu" is not in the cement catalogue/m,
    );
    expect(out).toContain('did you mean');
    // The shipped example names every qualified parameter with its kind (fixed with issue 18 items 6-7;
    // the unqualified case is the next test).
    expect(out).not.toMatch(/^warning unqualified/m);
    expect(out).toMatch(/^warning not_supplied: no point of this file feeds cement\.clinker_output/m);
  });

  it('gives OPC UA devices time by default and uses the site PKI: the steel example over OPC UA and Modbus', async () => {
    const { quietImport } = await import('../../drivers/opcua/load.ts');
    const { startSteelSimulator } = await quietImport(() => import('../../simulators/steel/opcua-server.ts'));
    const { startSteelModbusSimulator } = await import('../../simulators/steel/modbus-server.ts');
    const ua = await startSteelSimulator({ seed: 2, pkiDir: join(tmp, 'steel-sim-pki') });
    const scale = await startSteelModbusSimulator({ model: ua.model });
    try {
      const doc = parseDocument(readFileSync(join(root, 'examples/steel-plant.site.yaml'), 'utf8'));
      doc.setIn(['devices', 0, 'endpointUrl'], ua.endpointUrl);
      doc.setIn(['devices', 1, 'port'], scale.port);
      // Relative to the site file: the PKI lands in <tmp>/steel-site/state/opcua-pki.
      doc.setIn(['gateway', 'dataDir'], 'state');
      mkdirSync(join(tmp, 'steel-site'), { recursive: true });
      const file = join(tmp, 'steel-site', 'steel.yaml');
      writeFileSync(file, String(doc));
      const { code, out } = await run(['check-config', file]); // no --timeout-ms
      expect(code, out).toBe(0);
      expect(out).toMatch(/^steel-opcua\s+gas_cog\.rate\s+\S+\s+Nm³\/h\s+good/m);
      expect(out).toMatch(/^ladle-scale\s+bof1_scale\.in_operation\s+1\s+good/m);
      expect(out).toMatch(/all 2 devices answered/);
      expect(existsSync(join(tmp, 'steel-site', 'state', 'opcua-pki', 'own'))).toBe(true);
    } finally {
      await scale.stop();
      await ua.stop();
    }
  }, 60_000);

  it('exits 1 with file, line and path for an invalid site file, reading nothing', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(join(root, 'examples/power-plant.site.yaml'), 'utf8').replace(
        'type: float32',
        'type: float31',
      ),
    );
    const { code, out } = await run(['check-config', bad]);
    expect(code).toBe(1);
    expect(out).toMatch(/bad\.yaml:\d+:\d+ devices\[0\]\.points\[0\]\.type/);
    expect(out).not.toMatch(/^device\s+point/m);
  });
});
