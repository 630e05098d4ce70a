// The uplink file: the example stays valid; errors are located; passwords come from env or file only.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogueOf } from '../../../cli/hj212.ts';
import { loadUplinkConfig, parseUplinkConfig, resolvePasswords } from '../../../uplink/hj212/config.ts';

const EXAMPLE = fileURLToPath(new URL('../../../deploy/hj212/uplink.example.yaml', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'mrv-uplink-cfg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('HJ 212 uplink file', () => {
  it('accepts the example, resolving paths against its folder, with 2017 version bits', () => {
    const loaded = loadUplinkConfig(EXAMPLE);
    expect(loaded.versionBits).toBe(1);
    expect(loaded.cursorFile).toMatch(/\.data\/hj212\/cursor\.json$/);
    expect(loaded.config.devices[0]?.points.map((p) => p.point)).toEqual([
      'potline.current',
      'energy.dc_import',
      'ladle.net',
    ]);
    // The site file it names gives the meters for the calibration flag.
    const cat = catalogueOf(loaded.siteFile!);
    expect(cat.pointMeter.get('potline.current')).toBe('ct-potline-1');
    expect(resolvePasswords(loaded, { MRV_HJ212_PW_01: '123456' }).get('91150000DEMO00001X01')).toBe(
      '123456',
    );
  });

  it('reports every problem with file, line, column and path', () => {
    const text = `version: 1
unit: U1
platform: { host: h, port: 70000 }
cursorFile: c.json
devices:
  - mn: MN1
    password: secret
    points:
      - { point: p1, code: "a05-001" }
      - { point: p2, code: a05001 }
      - { point: p3, code: a05001 }
`;
    let message = '';
    try {
      parseUplinkConfig(text, 'up.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/up\.yaml:3:\d+ platform\.port: /);
    expect(message).toMatch(/up\.yaml:6:\d+ devices\[0\]: Unrecognized key: "password"/);
    expect(message).toMatch(/up\.yaml:9:\d+ devices\[0\]\.points\[0\]\.code: letters, digits/);
    expect(message).toMatch(/up\.yaml:11:\d+ devices\[0\]\.points\[2\]\.code: code "a05001" used twice/);
  });

  it('takes the password from a file and names a missing variable without any value', () => {
    writeFileSync(join(tmp, 'pw'), 'Ab12cd\n');
    const base = `version: 1
unit: U1
platform: { host: h, port: 9212 }
cursorFile: c.json
devices:
  - { mn: MN1, passwordFile: pw, points: [{ point: p1, code: a05001 }] }
  - { mn: MN2, passwordEnv: MRV_NOPE, points: [{ point: p1, code: a05001 }] }
`;
    const loaded = parseUplinkConfig(base, join(tmp, 'up.yaml'));
    expect(() => resolvePasswords(loaded, {})).toThrow(/MN MN2: environment variable MRV_NOPE is not set/);
    expect(resolvePasswords(loaded, { MRV_NOPE: 'x1' })).toEqual(
      new Map([
        ['MN1', 'Ab12cd'],
        ['MN2', 'x1'],
      ]),
    );
  });
});
