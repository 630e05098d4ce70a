// The opcua driver's sample config stays valid, README.md shows it verbatim (docs/architecture.md §10 rule 7), and
// bad OPC UA settings are reported with their path.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OpcuaDevice } from '../../../drivers/opcua/config.ts';
import { parseSiteConfig } from '../../../gateway/config.ts';

const dir = new URL('../../../drivers/opcua/', import.meta.url);
const sample = readFileSync(new URL('sample.yaml', dir), 'utf8');
const readme = readFileSync(new URL('README.md', dir), 'utf8');

describe('drivers/opcua/sample.yaml', () => {
  it('is a valid site file with opcua devices', () => {
    const site = parseSiteConfig(sample, 'sample.yaml');
    expect(site.devices.map((d) => d.kind.name)).toEqual(['opcua', 'opcua']);
    const dcs = site.devices[0]?.config as OpcuaDevice;
    expect(dcs).toMatchObject({ securityMode: 'SignAndEncrypt', mode: 'subscription', queueSize: 10 });
    expect(dcs.points[1]?.deadband).toEqual({ type: 'percent', value: 0.5 });
  });

  it('is shown verbatim in README.md', () => {
    expect(readme).toContain(sample.trim());
  });

  it('says what is wrong with a bad OPC UA device, with its path', () => {
    const bad = sample
      .replace('nodeId: "ns=3;i=1001"', 'nodeId: "Line1.Current"')
      .replace('securityPolicy: Basic256Sha256', 'securityPolicy: None')
      .replace('passwordEnv: MRV_OPCUA_LIME_PASSWORD', 'password: hunter2')
      .replace('{ type: percent, value: 0.5 }', '{ type: percent, value: 150 }');
    const message = (() => {
      try {
        parseSiteConfig(bad, 'bad.yaml');
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toMatch(/devices\[1\]\.points\[0\]\.nodeId: expected a NodeId/);
    expect(message).toMatch(/devices\[0\]\.securityPolicy: securityMode SignAndEncrypt needs/);
    expect(message).toMatch(/devices\[1\]\.identity/);
    expect(message).toMatch(/devices\[0\]\.points\[1\]\.deadband\.value: a percent deadband is 0–100/);
  });

  it('fills in defaults: anonymous, no security, subscription', () => {
    const d = OpcuaDevice.parse({
      id: 'x',
      driver: 'opcua',
      endpointUrl: 'opc.tcp://127.0.0.1:4840',
      points: [{ id: 'p', nodeId: 'ns=1;s=A', unit: 't' }],
    });
    expect(d).toMatchObject({
      securityMode: 'None',
      identity: { type: 'anonymous' },
      mode: 'subscription',
      publishingIntervalMs: 1000,
      samplingIntervalMs: 1000,
      pollIntervalMs: 1000,
      reconnectMaxDelayMs: 10_000,
    });
    expect(() => OpcuaDevice.parse({ ...d, identity: { type: 'username', username: 'u' } })).toThrow(
      /exactly one of passwordEnv or passwordFile/,
    );
    expect(() =>
      OpcuaDevice.parse({ ...d, points: [...d.points, { id: 'q', nodeId: 'ns=1;s=A', unit: 't' }] }),
    ).toThrow(/already read by another point/);
  });
});
