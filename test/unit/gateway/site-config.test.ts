import { describe, expect, it } from 'vitest';
import { MrvError } from '../../../core/errors.ts';
import { parseSiteConfig, siteDataDir, siteMeta } from '../../../gateway/config.ts';

const valid = `version: 1
unit: { id: U1, name: 示范厂, industry: aluminium, province: 内蒙古 }
gateway:
  id: gw1
  mqtt: { url: "mqtt://127.0.0.1:1883" }
meters:
  - id: ladle-scale
    name: 抬包秤 ladle scale
    kind: ladle-scale
devices:
  - id: ladle
    driver: modbus-tcp
    host: 127.0.0.1
    port: 15022
    points:
      - id: ladle.net
        meter: ladle-scale
        table: holding
        address: 0
        type: int32
        scale: 0.001
        unit: t
`;

function configError(text: string): string {
  try {
    parseSiteConfig(text, 'site.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(MrvError);
    expect((err as MrvError).code).toBe('MRV_E_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected a config error');
}

describe('every mistake in one run (issue 15)', () => {
  const two = `version: 1
unit: { id: U1, name: 示范厂, industry: aluminium, province: 内蒙古 }
gateway:
  id: gw1
  mqtt: { url: "mqtt://127.0.0.1:1883" }
meters:
  - id: ladle-scale
    name: 抬包秤 ladle scale
    kind: ladle-scale
devices:
  - id: ladle
    driver: modbus-tcp
    host: 127.0.0.1
    port: 15022
    unitId: 3
    points:
      - id: ladle.net
        meter: ladle-scale
        table: holding
        address: 0
        type: int32
        unit: t
  - id: anode
    driver: modbus-tcp
    host: 127.0.0.1
    port: 15022
    points:
      - id: anode.net
        table: holding
        address: 0
        type: int32
        unit: t
`;

  it('reports six different mistakes at their own lines, with suggestions', () => {
    const bad = two
      .replace('version: 1', 'version: 2') // 1: wrong version (line 1)
      .replace('  mqtt: { url:', '  mqttt: { url:') // 2: misspelt key in the gateway (line 5)
      .replace('    port: 15022\n    unitId: 3', '    prot: 15022\n    unitId: 3') // 3: misspelt key in a device (line 14)
      .replace(
        '        type: int32\n        unit: t\n  - id: anode',
        '        type: int24\n        unit: t\n  - id: anode',
      ) // 4: wrong type (line 21)
      .replace('      - id: anode.net\n', '      - id: anode.net\n        meter: anode-scale\n') // 5: unknown meter (line 29)
      .concat('        scael: 0.1\n'); // 6: misspelt point key (line 34)
    const msg = configError(bad);
    expect(msg).toMatch(/site\.yaml:1:\d+ version: version must be 1/);
    expect(msg).toMatch(/site\.yaml:5:3 gateway\.mqttt: unknown key "mqttt"; did you mean "mqtt"\?/);
    expect(msg).toMatch(/site\.yaml:14:5 devices\[0\]\.prot: unknown key "prot"; did you mean "port"\?/);
    expect(msg).toMatch(/site\.yaml:21:15 devices\[0\]\.points\[0\]\.type: /);
    expect(msg).toMatch(/site\.yaml:29:16 devices\[1\]\.points\[0\]\.meter: unknown meter "anode-scale"/);
    expect(msg).toMatch(
      /site\.yaml:34:9 devices\[1\]\.points\[0\]\.scael: unknown key "scael"; did you mean "scale"\?/,
    );
    // The misspelt `mqtt` is one problem, not also a missing `mqtt`.
    expect(msg).not.toContain('gateway.mqtt: ');
    expect(msg).toContain('6 problems');
  });

  it('flags two devices on one host:port and unit id (a forgotten unitId defaults to 1)', () => {
    const clash = parseSiteConfig(two.replace('    unitId: 3\n', ''), 'site.yaml');
    expect(clash.warnings).toHaveLength(1);
    expect(clash.warnings?.[0]).toMatch(
      /site\.yaml:22:9 devices\[1\]\.id: device "anode" reads the same slave as "ladle" \(127\.0\.0\.1:15022 unit id 1, unitId not given so it defaulted\)/,
    );
    expect(parseSiteConfig(two, 'site.yaml').warnings).toEqual([]);
  });
});

describe('site file loading', () => {
  it('accepts a valid file and fills defaults', () => {
    const s = parseSiteConfig(valid, 'site.yaml');
    expect(s.site.gateway.mqtt.topicPrefix).toBe('mrv/v1');
    expect(s.devices[0]?.config).toMatchObject({
      port: 15022,
      unitId: 1,
      pollIntervalMs: 1000,
      timeoutMs: 1000,
    });
    expect(s.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(siteMeta(s).points).toEqual([
      { id: 'ladle.net', device: 'ladle', meter: 'ladle-scale', unit: 't' },
    ]);
  });

  it('names file, line and path of a wrong type', () => {
    const msg = configError(valid.replace('type: int32', 'type: int24'));
    expect(msg).toMatch(/site\.yaml:20:15 devices\[0\]\.points\[0\]\.type: /);
    expect(msg).toContain('int32');
  });

  it('names the path of a missing required field', () => {
    const msg = configError(valid.replace('    host: 127.0.0.1\n', ''));
    expect(msg).toMatch(/devices\[0\]\.host: /);
  });

  it('rejects malformed YAML with its position', () => {
    const msg = configError(valid.replace('id: gw1', 'id: [gw1'));
    expect(msg).toMatch(/site\.yaml:\d+:\d+/);
    expect(msg).toContain('not valid YAML');
  });

  it('lists the valid drivers for an unknown one', () => {
    const msg = configError(valid.replace('driver: modbus-tcp', 'driver: modbus-udp'));
    expect(msg).toMatch(
      /devices\[0\]\.driver: unknown driver "modbus-udp"; did you mean "modbus-tcp"\?; valid drivers: modbus-tcp/,
    );
  });

  it('reports a point on an unknown meter and duplicate point ids', () => {
    const dup = valid.replace(
      '        unit: t\n',
      '        unit: t\n      - { id: ladle.net, meter: nope, table: holding, address: 2, type: uint16, unit: kg }\n',
    );
    const msg = configError(dup);
    expect(msg).toContain('devices[0].points[1].id: duplicate point id "ladle.net"');
    expect(msg).toContain('devices[0].points[1].meter: unknown meter "nope"');
  });

  it('rejects an unknown key instead of ignoring a typo', () => {
    const msg = configError(valid.replace('    port: 15022', '    prot: 15022'));
    expect(msg).toMatch(/site\.yaml:14:5 devices\[0\]\.prot: unknown key "prot"; did you mean "port"\?/);
  });

  it('rejects a 16-bit order on a 32-bit type and a wrong version', () => {
    expect(configError(valid.replace('type: int32', 'type: int32\n        order: BA'))).toContain(
      'devices[0].points[0].order: order BA does not fit int32; use ABCD, BADC, CDAB or DCBA',
    );
    expect(configError(valid.replace('version: 1', 'version: 2'))).toContain('version: version must be 1');
  });
});

describe('siteMeta', () => {
  it('carries every point field of the wire contract, e.g. sign and ticketPoint of the example site', async () => {
    const { loadSiteConfig } = await import('../../../gateway/config.ts');
    const meta = siteMeta(
      loadSiteConfig(new URL('../../../examples/aluminium-smelter.site.yaml', import.meta.url).pathname),
    );
    const butts = meta.points.find((p) => p.id === 'anode.butt_total');
    expect(butts?.sign).toBe('-');
    expect(meta.points.find((p) => p.parameter === 'aluminium.liquid_output')?.ticketPoint).toBe(
      'ladle.ticket_no',
    );
    // Driver-specific fields (addresses, types) stay out of the catalogue.
    expect(Object.keys(butts ?? {})).not.toContain('address');
  });
});

describe('paths in a site file', () => {
  const withFiles = `version: 1
unit: { id: U1, name: 示范厂, industry: steel, province: 河北 }
gateway:
  id: gw1
  mqtt: { url: "mqtts://broker:8883", passwordFile: secrets/mqtt.pw, caFile: /etc/mrv/ca.pem, certFile: tls/gw.crt, keyFile: tls/gw.key }
  bufferDir: ../var/buffer
  signingKeyFile: keys/gw1.key.pem
meters:
  - { id: m1, name: flowmeter, kind: flowmeter }
devices:
  - id: dcs
    driver: opcua
    endpointUrl: opc.tcp://127.0.0.1:4841
    pkiDir: pki
    identity: { type: username, username: mrv, passwordFile: secrets/opcua.pw }
    points: [{ id: p1, meter: m1, nodeId: "ns=1;s=A", unit: Nm³ }]
  - id: dcs2
    driver: opcua
    endpointUrl: opc.tcp://127.0.0.1:4842
    identity: { type: certificate, certFile: user.crt, keyFile: /abs/user.key }
    points: [{ id: p2, meter: m1, nodeId: "ns=1;s=B", unit: Nm³ }]
`;

  it('resolve against the site file folder, not the working directory; absolute ones stay', () => {
    const s = parseSiteConfig(withFiles, '/etc/mrv/sites/steel.yaml');
    const g = s.site.gateway;
    expect(g.mqtt).toMatchObject({
      passwordFile: '/etc/mrv/sites/secrets/mqtt.pw',
      caFile: '/etc/mrv/ca.pem',
      certFile: '/etc/mrv/sites/tls/gw.crt',
      keyFile: '/etc/mrv/sites/tls/gw.key',
    });
    expect(g.bufferDir).toBe('/etc/mrv/var/buffer');
    expect(g.signingKeyFile).toBe('/etc/mrv/sites/keys/gw1.key.pem');
    expect(s.devices[0]?.config).toMatchObject({
      pkiDir: '/etc/mrv/sites/pki',
      identity: { passwordFile: '/etc/mrv/sites/secrets/opcua.pw' },
    });
    expect(s.devices[1]?.config).toMatchObject({
      identity: { certFile: '/etc/mrv/sites/user.crt', keyFile: '/abs/user.key' },
    });
    // The drivers' data folder: the parent of bufferDir unless gateway.dataDir says otherwise.
    expect(siteDataDir(s)).toBe('/etc/mrv/var');
    const own = parseSiteConfig(
      withFiles.replace('  bufferDir: ../var/buffer', '  bufferDir: ../var/buffer\n  dataDir: state'),
      '/etc/mrv/sites/steel.yaml',
    );
    expect(siteDataDir(own)).toBe('/etc/mrv/sites/state');
    expect(siteDataDir(parseSiteConfig(valid, '/x/site.yaml'))).toBeUndefined();
  });

  it('leave the config hash unchanged when the file moves', () => {
    const a = parseSiteConfig(withFiles, '/etc/mrv/sites/steel.yaml');
    const b = parseSiteConfig(withFiles, '/home/op/steel.yaml');
    expect(a.configHash).toBe(b.configHash);
    expect(a.site.gateway.bufferDir).not.toBe(b.site.gateway.bufferDir);
  });
});
