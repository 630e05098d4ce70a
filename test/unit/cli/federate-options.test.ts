// `mrv server --federate PROVINCE=STORE` (cli/federate-options.ts) and province codes
// (core/schema/province.ts): the forms taken, what is refused and how, and that no credential shows.
import { describe, expect, it } from 'vitest';
import { makeFederation, parseFederateSpec } from '../../../cli/federate-options.ts';
import {
  checkProvinceCode,
  provinceStreamNames,
  provinceTopicPrefix,
} from '../../../core/schema/province.ts';
import { UnitRegistry } from '../../../core/schema/unit-registry.ts';

describe('--federate', () => {
  it('takes a SQLite file and an InfluxDB URL with or without db=', () => {
    expect(parseFederateSpec('44=sqlite:/var/lib/mrv/44.sqlite')).toEqual({
      province: '44',
      kind: 'sqlite',
      location: '/var/lib/mrv/44.sqlite',
      label: 'sqlite:/var/lib/mrv/44.sqlite',
    });
    expect(parseFederateSpec('32=influx:http://10.0.3.2:8086')).toMatchObject({
      province: '32',
      kind: 'influx',
      location: 'http://10.0.3.2:8086',
      database: 'mrv',
    });
    expect(parseFederateSpec('广东=influx:https://influx.gd.example/?db=mrv44')).toMatchObject({
      province: '广东',
      location: 'https://influx.gd.example',
      database: 'mrv44',
    });
  });

  it('keeps the credentials for the connection and out of the label', () => {
    const s = parseFederateSpec('32=influx:http://mrv:s3cret@10.0.3.2:8086?db=mrv32');
    expect(s.location).toBe('http://mrv:s3cret@10.0.3.2:8086');
    expect(s.label).toBe('influx:http://10.0.3.2:8086 db mrv32');
    expect(s.label).not.toContain('s3cret');
  });

  it('refuses other forms with the expected one', () => {
    for (const bad of [
      '44',
      '=sqlite:/a',
      '44=/a.sqlite',
      '44=postgres:x',
      '44=sqlite:',
      '44=influx:not a url',
    ])
      expect(() => parseFederateSpec(bad), bad).toThrow(/--federate .*(PROVINCE=sqlite:FILE|not a URL)/);
    expect(() => parseFederateSpec('44=influx:ftp://x')).toThrow(/http or https/);
  });

  it('needs the national registry, and a province once', () => {
    expect(() => makeFederation(['44=sqlite:/a'], undefined)).toThrow(/--units-file/);
    expect(() => makeFederation(['44=sqlite:/a', '44=sqlite:/b'], new UnitRegistry())).toThrow(
      /province 44 is federated twice/,
    );
    const fed = makeFederation(['44=sqlite:/a', '32=influx:http://h:8086'], new UnitRegistry());
    expect(fed.provinces().map((p) => [p.province, p.available])).toEqual([
      ['44', false],
      ['32', false],
    ]);
  });
});

describe('province codes', () => {
  it('partition topics and stream names', () => {
    expect(provinceTopicPrefix('mrv/v1', '44')).toBe('mrv/v1/44');
    expect(provinceStreamNames('44', { batchStream: 'MRV_BATCHES', gatewayStream: 'MRV_GATEWAYS' })).toEqual({
      batchStream: 'MRV_BATCHES_44',
      gatewayStream: 'MRV_GATEWAYS_44',
    });
  });

  it('refuse what cannot be a topic level, subject token or stream name', () => {
    for (const bad of ['', '4.4', '4/4', '+', '#', '*', '>', 'a b', '广东', 'x'.repeat(33)])
      expect(() => checkProvinceCode(bad), bad).toThrow(/letters, digits/);
    expect(() => checkProvinceCode('GD-44')).not.toThrow();
  });
});
