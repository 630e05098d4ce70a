// deploy/grafana: the dashboard and provisioning files parse, every InfluxQL query names only the
// measurement and the tags/fields the InfluxDB store writes (collector/influx-store.ts READING_LAYOUT),
// and every query runs against a real InfluxDB filled through InfluxStore and returns data.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InfluxStore, READING_LAYOUT } from '../../collector/influx-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import { type InfluxDbServer, startInfluxDb } from '../helpers/influxdb.ts';

const dir = new URL('../../deploy/grafana/', import.meta.url);
const dashboard = JSON.parse(readFileSync(new URL('dashboards/carbon-mrv.json', dir), 'utf8')) as {
  uid: string;
  templating: { list: { name: string; query: string; datasource: { uid: string } }[] };
  panels: {
    title: string;
    datasource: { uid: string };
    targets: { query: string; rawQuery: boolean; datasource: { uid: string } }[];
  }[];
};
const datasources = parse(readFileSync(new URL('provisioning/datasources/influxdb.yaml', dir), 'utf8')) as {
  datasources: { uid: string; type: string; jsonData: { dbName: string } }[];
};
const providers = parse(readFileSync(new URL('provisioning/dashboards/carbon-mrv.yaml', dir), 'utf8')) as {
  providers: { type: string; options: { path: string } }[];
};

const queries = [
  ...dashboard.templating.list.map((v) => ({ where: `variable ${v.name}`, query: v.query })),
  ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, query: t.query }))),
];
const allowed = new Set<string>([
  READING_LAYOUT.measurement,
  ...READING_LAYOUT.tags,
  ...READING_LAYOUT.fields,
]);

describe('Grafana files', () => {
  it('parse, and refer to the provisioned InfluxDB data source by uid', () => {
    const [ds] = datasources.datasources;
    expect(ds?.type).toBe('influxdb');
    expect(ds?.jsonData.dbName).toBe('mrv');
    expect(providers.providers[0]?.type).toBe('file');
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    for (const p of dashboard.panels) {
      expect(p.datasource.uid, p.title).toBe(ds?.uid);
      for (const t of p.targets) expect(t.datasource.uid).toBe(ds?.uid);
    }
    for (const v of dashboard.templating.list) expect(v.datasource.uid).toBe(ds?.uid);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['unit', 'point']);
  });

  it('query only the measurement, tags and fields the InfluxDB store writes', () => {
    expect(queries.length).toBeGreaterThan(8);
    for (const { where, query } of queries) {
      const from = [...query.matchAll(/FROM\s+"([^"]+)"/g)].map((m) => m[1]);
      expect(from, where).toEqual([READING_LAYOUT.measurement]);
      // Every double-quoted identifier, except output aliases (AS "x"), is our measurement, a tag or a field.
      const ids = [...query.replace(/AS\s+"[^"]+"/g, '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
      for (const id of ids) expect(allowed.has(id), `${where}: "${id}" in ${query}`).toBe(true);
      expect(query, where).toMatch(/"unit"/);
    }
  });
});

describe('Grafana queries on a real InfluxDB', () => {
  let server: InfluxDbServer;
  let store: InfluxStore;
  const unit = '91150000DEMO00001X';
  beforeAll(async () => {
    server = await startInfluxDb();
    store = new InfluxStore({ url: server.url, database: 'mrv', log: pino({ level: 'silent' }) });
    await store.start();
    const now = Date.now();
    const readings: StoredReading[] = [];
    let seq = 1;
    for (let i = 0; i < 30; i++) {
      const ts = now - (30 - i) * 60_000;
      const base = { unitId: unit, gatewayId: 'gw', device: 'd', ts, rxTs: ts, seq: seq++ };
      readings.push({ ...base, point: 'potline.current', value: String(400 + i / 10), quality: 'good' });
      readings.push({
        ...base,
        point: 'potline.cell01.voltage',
        value: i === 10 ? '35.2' : '4.21',
        quality: 'good',
      });
      readings.push({ ...base, point: 'potline.cell02.voltage', value: '4.18', quality: 'good' });
      readings.push({ ...base, point: 'energy.dc_import', value: String(1000 + i * 8.4), quality: 'good' });
      readings.push({ ...base, point: 'energy.dc_power', value: '504000', quality: 'good' });
      readings.push({
        ...base,
        point: 'ladle.net',
        meter: 'ladle-scale-1',
        value: i < 15 ? '2.815' : '3.102',
        quality: 'good',
      });
      if (i % 7 === 0)
        readings.push({
          ...base,
          ts: ts + 1,
          point: 'anode.set_total',
          value: null,
          quality: 'bad',
          reason: 'MRV_E_MODBUS_TIMEOUT: no answer',
        });
    }
    await store.writeReadings(readings);
  });
  afterAll(async () => {
    await store?.stop();
    await server?.stop();
  });

  it('every query runs and returns series', async () => {
    for (const { where, query } of queries) {
      const q = query
        .replaceAll('$timeFilter', 'time > now() - 2h')
        .replaceAll('$__interval', '1m')
        .replaceAll('/^$unit$/', `/^${unit}$/`)
        .replaceAll('/^$point$/', '/^(potline\\.current|ladle\\.net)$/');
      const res = await fetch(`${server.url}/query?db=mrv&q=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { results: { error?: string; series?: unknown[] }[] };
      expect(res.status, where).toBe(200);
      expect(body.results[0]?.error, `${where}: ${q}`).toBeUndefined();
      expect(body.results[0]?.series?.length ?? 0, `${where}: ${q}`).toBeGreaterThan(0);
    }
  });
});
