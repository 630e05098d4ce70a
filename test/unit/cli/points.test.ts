/**
 * `mrv points export|import` (issue 15 item 2): a site's points to CSV and XLSX and back, exactly;
 * every problem of an imported table by row and column in one run; 500 devices from 3 templates and
 * a CSV import commissioned together.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../cli/main.ts';
import { csvToTable, tableToCsv, tableToXlsx, xlsxToTable } from '../../../cli/points.ts';
import type { MrvError } from '../../../core/errors.ts';
import { loadSiteConfig, parseSiteConfig } from '../../../gateway/config.ts';
import { applyPointTable, exportPointTable } from '../../../gateway/point-table.ts';

const root = new URL('../../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'mrv-points-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const configs = (file: string) => loadSiteConfig(file).devices.map((d) => d.config);

describe('points export and import', () => {
  for (const example of ['cement-plant.site.yaml', 'aluminium-smelter.site.yaml', 'steel-plant.site.yaml']) {
    it(`round-trips ${example} through CSV and XLSX exactly`, async () => {
      const file = join(root, 'examples', example);
      const text = readFileSync(file, 'utf8');
      const table = exportPointTable(text, file);
      expect(table.columns.slice(0, 2)).toEqual(['device', 'id']);
      const fromCsv = applyPointTable(text, file, csvToTable(tableToCsv(table)), 'points.csv');
      expect(fromCsv.loaded.devices.map((d) => d.config)).toEqual(configs(file));
      const fromXlsx = applyPointTable(
        text,
        file,
        await xlsxToTable(await tableToXlsx(table)),
        'points.xlsx',
      );
      expect(fromXlsx.loaded.devices.map((d) => d.config)).toEqual(configs(file));
      // Comments and everything outside the points stay as written.
      expect(fromCsv.text).toContain(text.split('\n').find((l) => l.startsWith('#')) ?? '');
    });
  }

  it('names every problem of a table by row and column, and imports nothing', () => {
    const file = join(root, 'examples', 'cement-plant.site.yaml');
    const text = readFileSync(file, 'utf8');
    const table = exportPointTable(text, file);
    const col = (name: string) => table.columns.indexOf(name);
    table.rows[1]![col('type')] = 'float24'; // row 3
    table.rows[3]![col('device')] = 'no-such-device'; // row 5
    table.rows[4]![col('address')] = 'forty'; // row 6
    table.columns.push('scael');
    table.rows[6]![table.columns.length - 1] = '0.1'; // row 8
    let msg = '';
    try {
      applyPointTable(text, file, table, 'points.csv');
    } catch (err) {
      expect((err as MrvError).code).toBe('MRV_E_CONFIG');
      msg = (err as Error).message;
    }
    expect(msg).toContain('4 problems; nothing was imported');
    expect(msg).toMatch(/points\.csv row 5 column A \(device\): no device "no-such-device"/);
    expect(msg).toMatch(
      new RegExp(
        `points\\.csv row 3 column ${String.fromCharCode(65 + col('type'))} \\(type\\): Invalid option`,
      ),
    );
    expect(msg).toMatch(
      new RegExp(`points\\.csv row 6 column ${String.fromCharCode(65 + col('address'))} \\(address\\): `),
    );
    expect(msg).toMatch(
      /points\.csv row 8 column \w+ \(scael\): unknown key "scael"; did you mean "scale"\?/,
    );
  });

  it('mrv points export and import work on files, keeping SITE.yaml.bak', async () => {
    const site = join(tmp, 'cement.site.yaml');
    copyFileSync(join(root, 'examples', 'cement-plant.site.yaml'), site);
    const before = configs(site);
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await main(['points', 'export', site, '--out', join(tmp, 'points.xlsx')])).toBe(0);
    expect(await main(['points', 'export', site, '--out', join(tmp, 'points.csv')])).toBe(0);
    expect(readFileSync(join(tmp, 'points.csv'), 'utf8').charCodeAt(0)).toBe(0xfeff); // BOM for spreadsheets
    expect(await main(['points', 'import', site, join(tmp, 'points.xlsx')])).toBe(0);
    expect(existsSync(`${site}.bak`)).toBe(true);
    expect(configs(site)).toEqual(before);
    expect(
      await main(['points', 'import', site, join(tmp, 'points.csv'), '--out', join(tmp, 'new.yaml')]),
    ).toBe(0);
    expect(configs(join(tmp, 'new.yaml'))).toEqual(before);
  });

  it('commissions 500 devices from 3 templates and a CSV import', () => {
    const lines = [
      'version: 1',
      'unit: { id: U500, name: 大厂, industry: cement, province: 安徽 }',
      'gateway: { id: gw1, mqtt: { url: "mqtt://127.0.0.1:1883" } }',
      'templates:',
    ];
    const models = ['belt-scale', 'power-meter', 'flow-meter'];
    for (const m of models)
      lines.push(
        `  - id: ${m}`,
        '    driver: modbus-tcp',
        '    points:',
        '      - { id: rate, table: holding, address: 0, type: float32, unit: t/h }',
        '      - { id: total, table: input, address: 4, type: uint32, scale: "0.001", unit: t }',
      );
    lines.push('devices:');
    for (let i = 0; i < 490; i++)
      lines.push(
        `  - { id: d${i}, template: ${models[i % 3]}, host: 10.0.${Math.floor(i / 200)}.1, unitId: ${(i % 200) + 1} }`,
      );
    // Ten devices of an older model whose points come from the vendor's spreadsheet.
    for (let i = 0; i < 10; i++)
      lines.push(
        `  - id: old${i}`,
        '    driver: modbus-tcp',
        `    host: 10.1.0.${i + 1}`,
        '    points:',
        `      - { id: old${i}.placeholder, table: holding, address: 0, type: uint16, unit: "" }`,
      );
    const text = `${lines.join('\n')}\n`;
    const rows = [['device', 'id', 'table', 'address', 'type', 'scale', 'unit']];
    for (let i = 0; i < 10; i++)
      for (let k = 0; k < 8; k++)
        rows.push([`old${i}`, `old${i}.p${k}`, 'holding', String(k * 2), 'int32', '0.01', 'kW']);
    const csv = rows.map((r) => r.join(',')).join('\n');
    const { text: out, loaded } = applyPointTable(text, 'big.site.yaml', csvToTable(csv), 'vendor.csv');
    expect(loaded.devices).toHaveLength(500);
    expect(loaded.devices.flatMap((d) => d.config.points)).toHaveLength(490 * 2 + 80);
    expect(parseSiteConfig(out, 'big.site.yaml').configHash).toBe(loaded.configHash);
    expect(loaded.devices.at(-1)?.config.points.map((p) => p.id)).toContain('old9.p7');
  });
});
