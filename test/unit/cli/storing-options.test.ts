// Storing processes need a key registry unless told --insecure-unsigned (logged loudly), and broker
// passwords never come from a command line.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { refusePasswordInUrl, requireKeyRegistry } from '../../../cli/integrity-options.ts';

const MRV = path.join(new URL('../../..', import.meta.url).pathname, 'bin/mrv.js');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [MRV, ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('storing processes and their key registry', () => {
  it('refuses to start without --keys, names --insecure-unsigned', () => {
    const errors: string[] = [];
    const log = { error: (_o: object, msg: string) => errors.push(msg) };
    expect(() => requireKeyRegistry({}, log, 'mrv collector')).toThrow(
      expect.objectContaining({
        code: 'MRV_E_CONFIG',
        message: expect.stringMatching(/--keys DIR.*--insecure-unsigned/),
      }),
    );
    expect(errors).toEqual([]);
    requireKeyRegistry({ 'insecure-unsigned': true }, log, 'mrv collector');
    expect(errors).toEqual([expect.stringMatching(/--insecure-unsigned: batch signatures are NOT verified/)]);
    requireKeyRegistry({ keys: '/etc/mrv/keys' }, log, 'mrv collector');
    expect(errors).toHaveLength(1);
  });

  it('`mrv collector` and `mrv server --mqtt` exit with MRV_E_CONFIG without --keys', async () => {
    const c = await run(['collector', '--mqtt', 'mqtt://127.0.0.1:1', '--sqlite', '/nonexistent/x.sqlite']);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('mrv collector: MRV_E_CONFIG: mrv collector stores readings and needs');
    const s = await run([
      'server',
      '--mqtt',
      'mqtt://127.0.0.1:1',
      '--port',
      '0',
      '--sqlite',
      '/nonexistent/x.sqlite',
    ]);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain('MRV_E_CONFIG: mrv server --mqtt stores readings and needs');
  });
});

describe('broker passwords', () => {
  it('are refused inside a URL, with the way to give them instead', async () => {
    expect(() => refusePasswordInUrl('mqtt', 'mqtts://col:secret@broker:8883')).toThrow(/--password-file/);
    expect(() => refusePasswordInUrl('mqtt', 'mqtts://col@broker:8883')).not.toThrow();
    expect(() => refusePasswordInUrl('mqtt', undefined)).not.toThrow();
    const c = await run(['collector', '--mqtt', 'mqtt://col:secret@127.0.0.1:1', '--insecure-unsigned']);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/MRV_E_CONFIG: --mqtt: the URL carries a password.*--password-file/);
    expect(c.stderr).not.toContain('secret');
  });
});

describe('mrv broker', () => {
  it('refuses to start without an accounts file', async () => {
    const b = await run(['broker', '--port', '0']);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('mrv broker: MRV_E_CONFIG: missing --accounts FILE');
  });
});
