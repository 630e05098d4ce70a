// OPC UA security end to end: SignAndEncrypt with Basic256Sha256 and a user name. The server's
// certificate is unknown to our PKI, so the connection is refused with a clear reason and the
// certificate lands in <pki>/rejected/; an operator trusts it with `mrv pki trust` (a child process)
// and the running driver connects without a restart; then `mrv read` (a child process) reads through
// the same PKI. `mrv pki reject`
// takes the trust back.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/time.ts';
import { OpcuaDevice } from '../../drivers/opcua/config.ts';
import { OpcuaDriver } from '../../drivers/opcua/driver.ts';
import { listPki, readCertificateFile, thumbprintOf } from '../../drivers/opcua/pki.ts';
import { type OpcuaSimulator, startOpcuaSimulator } from '../../simulators/opcua-host.ts';
import { Collected, tempDir } from '../helpers/opcua.ts';

const run = promisify(execFile);
const MRV = new URL('../../bin/mrv.js', import.meta.url).pathname;
const log = pino({ level: 'silent' });
const tmp = tempDir('mrv-opcua-sec-');
const pki = join(tmp.dir, 'gateway-pki');
let sim: OpcuaSimulator;
let serverThumbprint: string;

/** Runs `mrv ...` as a user would; resolves with the exit code and output, never rejects. */
async function mrv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MRV, ...args], {
      env: { ...process.env, MRV_TEST_PASSWORD: 'ladle-42' },
      timeout: 40_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  sim = await startOpcuaSimulator({
    pkiDir: join(tmp.dir, 'server'),
    users: { weigher: 'ladle-42' },
    allowAnonymous: false,
    variables: [{ id: 'Ladle.NetWeight', dataType: 'UInt32', unit: 'kg', read: () => 152_340 }],
  });
  const own = join(sim.pkiDir, 'server', 'own', 'certs');
  const pem = readdirSync(own).find((f) => f.endsWith('.pem'));
  if (!pem) throw new Error(`no server certificate in ${own}`);
  serverThumbprint = thumbprintOf(readCertificateFile(join(own, pem)));
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  tmp.remove();
});

describe('opcua SignAndEncrypt with an unknown server certificate', () => {
  it('refuses it, files it in rejected/, and connects once `mrv pki trust` accepts it', async () => {
    process.env.MRV_TEST_PASSWORD = 'ladle-42';
    const config = OpcuaDevice.parse({
      id: 'ladle',
      driver: 'opcua',
      endpointUrl: sim.endpointUrl,
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      identity: { type: 'username', username: 'weigher', passwordEnv: 'MRV_TEST_PASSWORD' },
      pkiDir: pki,
      publishingIntervalMs: 200,
      reconnectDelayMs: 300,
      reconnectMaxDelayMs: 1000,
      points: [{ id: 'net', nodeId: sim.nodeId('Ladle.NetWeight'), unit: 't', scale: '0.001' }],
    });
    const c = new Collected();
    const driver = new OpcuaDriver(config, { clock: systemClock, log });
    await driver.start(c.sink);
    try {
      const refused = await c.waitFor((r) => r.quality === 'bad', 20_000, 'a refused connection');
      expect(refused.reason).toMatch(/^MRV_E_OPCUA_CERTIFICATE: .*BadCertificateUntrusted/);
      expect(refused.reason).toContain(serverThumbprint);
      expect(refused.reason).toContain('mrv pki trust');
      expect(listPki(pki).map((e) => [e.status, e.thumbprint])).toEqual([['rejected', serverThumbprint]]);

      const listed = await mrv('pki', 'list', '--pki', pki, '--json');
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject([{ status: 'rejected', thumbprint: serverThumbprint }]);

      const trusted = await mrv('pki', 'trust', serverThumbprint.slice(0, 12), '--pki', pki);
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(trusted.stdout).toContain(`trusted ${serverThumbprint}`);
      expect(listPki(pki).map((e) => e.status)).toEqual(['trusted']);

      // The running driver picks the trust up on its next attempt: no restart.
      const good = await c.waitFor((r) => r.quality === 'good', 20_000, 'a good reading after trust');
      expect(good.value).toBe('152.34');
      expect(driver.status().connected).toBe(true);
    } finally {
      await driver.stop();
    }

    const after = await mrv(
      'read',
      sim.endpointUrl,
      '--node',
      sim.nodeId('Ladle.NetWeight'),
      '--security',
      'SignAndEncrypt',
      '--user',
      'weigher',
      '--password-env',
      'MRV_TEST_PASSWORD',
      '--pki',
      pki,
      '--json',
    );
    expect(after.code, after.stderr).toBe(0);
    const r = JSON.parse(after.stdout);
    expect(r).toMatchObject({ value: '152340', quality: 'good', nodeId: sim.nodeId('Ladle.NetWeight') });
    expect(r.serverTs).toBeDefined();
  }, 90_000);

  it('`mrv pki reject` takes the trust back: the next connection is refused again', async () => {
    const rejected = await mrv('pki', 'reject', serverThumbprint, '--pki', pki);
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(listPki(pki).map((e) => [e.status, e.thumbprint])).toEqual([['rejected', serverThumbprint]]);
    const config = OpcuaDevice.parse({
      id: 'ladle',
      driver: 'opcua',
      endpointUrl: sim.endpointUrl,
      securityMode: 'Sign',
      identity: { type: 'username', username: 'weigher', passwordEnv: 'MRV_TEST_PASSWORD' },
      pkiDir: pki,
      points: [{ id: 'net', nodeId: sim.nodeId('Ladle.NetWeight'), unit: 'kg' }],
    });
    const c = new Collected();
    const driver = new OpcuaDriver(config, { clock: systemClock, log });
    await driver.start(c.sink);
    try {
      const refused = await c.waitFor((r) => r.quality === 'bad', 20_000, 'a refused connection');
      expect(refused.reason).toMatch(/^MRV_E_OPCUA_CERTIFICATE/);
    } finally {
      await driver.stop();
    }
  }, 60_000);
});
