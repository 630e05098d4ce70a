// The OPC UA simulators read by the opcua driver: the steel plant with the example site file's
// points, and the aluminium pot-line (anode effects with duration, so AEM can be derived). Both run
// on a ScaledClock, so the SourceTimestamp is plant time and the ServerTimestamp wall time.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { browse } from '../../cli/opcua.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import { ScaledClock, systemClock } from '../../core/time.ts';
import { OpcuaDevice } from '../../drivers/opcua/config.ts';
import { OpcuaDriver } from '../../drivers/opcua/driver.ts';
import { startAluminiumOpcuaSimulator } from '../../simulators/aluminium/opcua-server.ts';
import { STEEL_VARIABLES } from '../../simulators/steel/opcua-map.ts';
import { startSteelSimulator } from '../../simulators/steel/opcua-server.ts';
import { Collected, tempDir } from '../helpers/opcua.ts';

const log = pino({ level: 'silent' });
const tmp = tempDir('mrv-opcua-sims-');
afterAll(() => tmp.remove());

async function withDriver(config: OpcuaDevice, body: (c: Collected) => Promise<void>): Promise<void> {
  const c = new Collected();
  const d = new OpcuaDriver(config, { clock: systemClock, log });
  await d.start(c.sink);
  try {
    await body(c);
  } finally {
    await d.stop();
  }
}

describe('steel plant over OPC UA', () => {
  it('serves every point of examples/steel-plant.site.yaml; faults show as bad readings', async () => {
    const start = Date.UTC(2026, 2, 1);
    const sim = await startSteelSimulator({
      seed: 5,
      clock: new ScaledClock(start, 3600),
      pkiDir: `${tmp.dir}/steel`,
    });
    try {
      const text = readFileSync(new URL('../../examples/steel-plant.site.yaml', import.meta.url), 'utf8');
      const device = OpcuaDevice.parse({
        ...SiteConfig.parse(parse(text)).devices[0],
        endpointUrl: sim.endpointUrl,
        pkiDir: `${tmp.dir}/gw`,
        publishingIntervalMs: 200,
        samplingIntervalMs: 100,
      });
      await withDriver(device, async (c) => {
        for (const v of STEEL_VARIABLES) await c.waitFor((r) => r.point === v.point && r.quality === 'good');
        const total = () =>
          Number(
            c
              .of('bof1.crude_steel_total')
              .filter((r) => r.quality === 'good')
              .at(-1)?.value ?? 0,
          );
        await c.waitFor(() => total() > 0, 20_000, 'a first heat');
        const r = c.of('bof1.crude_steel_total').at(-1);
        // Source time is plant time (an hour per second), server time is wall time.
        expect(Date.parse(r?.ts ?? '')).toBeGreaterThanOrEqual(start);
        expect(Math.abs(Date.parse(r?.serverTs ?? '') - Date.now())).toBeLessThan(10_000);
        expect(r?.value).toMatch(/^\d+(\.\d{1,3})?$/); // kg × 0.001, exact
        // A heat's number and net weight carry one SourceTimestamp, the tap time (the time of the last
        // change at the source), so the evidence pairs every weight with its heat (events + ticketPoint).
        await c.waitFor(
          () => c.of('bof1.heat_no').filter((x) => x.quality === 'good' && Number(x.value) >= 2).length > 0,
          30_000,
          'a second heat',
        );
        const heat = c
          .of('bof1.heat_no')
          .filter((x) => x.quality === 'good' && Number(x.value) >= 1)
          .at(-1);
        const net = c.of('bof1.ladle_net').filter((x) => x.quality === 'good' && x.ts === heat?.ts);
        expect(net.length, `a net weight at the heat's time ${heat?.ts}`).toBeGreaterThan(0);
        // `mrv browse` finds every variable of the map with its data type (in-process, stdout captured).
        const out: string[] = [];
        const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
          out.push(String(chunk));
          return true;
        });
        let code: number;
        try {
          code = await browse([
            sim.endpointUrl,
            '--node',
            'ns=1;s=SteelPlant',
            '--pki',
            `${tmp.dir}/gw`,
            '--json',
          ]);
        } finally {
          spy.mockRestore();
        }
        expect(code).toBe(0);
        const found = JSON.parse(out.join('')) as { nodeId: string; nodeClass: string; dataType?: string }[];
        for (const v of STEEL_VARIABLES)
          expect(found.find((n) => n.nodeId === `ns=1;s=${v.id}`)).toMatchObject({
            nodeClass: 'Variable',
            dataType: v.dataType,
          });
        sim.setStatus('Gas.NG.Rate', 'BadSensorFailure');
        const bad = await c.waitFor((x) => x.point === 'gas_ng.rate' && x.quality === 'bad');
        expect(bad.reason).toBe('MRV_E_OPCUA_STATUS: BadSensorFailure');
      });
    } finally {
      await sim.stop();
    }
  }, 60_000);
});

describe('aluminium pot-line over OPC UA', () => {
  it('exposes anode effects with their duration: AEM derivable from cell-seconds', async () => {
    const start = Date.UTC(2026, 2, 1);
    const sim = await startAluminiumOpcuaSimulator({
      seed: 42,
      clock: new ScaledClock(start, 3600),
      pkiDir: `${tmp.dir}/al`,
      params: { anodeEffectsPerCellDay: 3 },
    });
    try {
      const points = [
        { id: 'ae_seconds', nodeId: sim.nodeId('Potline1.AnodeEffect.CellSeconds'), unit: 's' },
        { id: 'ae_count', nodeId: sim.nodeId('Potline1.AnodeEffect.Count'), unit: '1' },
        { id: 'current', nodeId: sim.nodeId('Potline1.LineCurrent'), unit: 'kA' },
        { id: 'cell1', nodeId: sim.nodeId('Potline1.Cells.Cell001.Voltage'), unit: 'V' },
        { id: 'cells', nodeId: sim.nodeId('Potline1.CellsInLine'), unit: '1' },
      ];
      const device = OpcuaDevice.parse({
        id: 'potline',
        driver: 'opcua',
        endpointUrl: sim.endpointUrl,
        pkiDir: `${tmp.dir}/gw`,
        mode: 'polling',
        pollIntervalMs: 300,
        points,
      });
      await withDriver(device, async (c) => {
        const last = (id: string) => Number(c.of(id).at(-1)?.value ?? 0);
        await c.waitFor(() => last('ae_count') >= 3, 30_000, 'three anode effects');
        const first = c.of('ae_seconds')[0];
        // At least two virtual hours between the first and the last reading.
        await c.waitFor(
          () => Date.parse(c.of('ae_seconds').at(-1)?.ts ?? '') - Date.parse(first?.ts ?? '') > 2 * 3600_000,
          10_000,
          'two plant hours of readings',
        );
        const lastR = c.of('ae_seconds').at(-1);
        const cellDays =
          (last('cells') * (Date.parse(lastR?.ts ?? '') - Date.parse(first?.ts ?? ''))) / 86_400_000;
        const aem = (last('ae_seconds') - Number(first?.value)) / 60 / cellDays;
        expect(last('cells')).toBe(300);
        expect(Number.isFinite(aem) && aem > 0, JSON.stringify({ aem, cellDays, first, lastR })).toBe(true);
        expect(last('current')).toBeGreaterThan(380);
        expect(last('current')).toBeLessThan(420);
        expect(last('cell1')).toBeGreaterThan(3.5);
        // The model's ledger agrees with what was read (cell-seconds only grow).
        sim.model.advanceTo(Date.parse(lastR?.ts ?? ''));
        expect(sim.model.ledger().anodeEffectSeconds).toBeGreaterThanOrEqual(last('ae_seconds'));
      });
    } finally {
      await sim.stop();
    }
  }, 60_000);
});
