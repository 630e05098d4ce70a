// `mrv collector --max-writes-in-flight N`: the pipeline depth (docs/delivery.md "Pipelined writes"),
// validated before anything connects.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  collectorOptions,
  MAX_WRITES_IN_FLIGHT_FLAG,
  maxWritesInFlight,
} from '../../../cli/integrity-options.ts';

const MRV = path.join(new URL('../../..', import.meta.url).pathname, 'bin/mrv.js');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [MRV, ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('--max-writes-in-flight', () => {
  it('takes a whole number from 1 to the limit into maxWritesInFlight', () => {
    expect(maxWritesInFlight(undefined)).toBeUndefined();
    expect(maxWritesInFlight('1')).toBe(1);
    expect(maxWritesInFlight('8')).toBe(8);
    expect(maxWritesInFlight(String(MAX_WRITES_IN_FLIGHT_FLAG))).toBe(MAX_WRITES_IN_FLIGHT_FLAG);
    expect(collectorOptions({ 'max-writes-in-flight': '2' }).maxWritesInFlight).toBe(2);
    expect(collectorOptions({})).not.toHaveProperty('maxWritesInFlight');
  });

  it.each(['0', '-1', '1.5', '', 'four', '4x', '1e1', '0x4', String(MAX_WRITES_IN_FLIGHT_FLAG + 1)])(
    'refuses "%s" with MRV_E_CONFIG naming the flag, the range and the value',
    (bad) => {
      expect(() => collectorOptions({ 'max-writes-in-flight': bad })).toThrow(
        expect.objectContaining({
          code: 'MRV_E_CONFIG',
          message: `--max-writes-in-flight: expected a whole number of store writes from 1 (one write after the other) to ${MAX_WRITES_IN_FLIGHT_FLAG}, got "${bad}"`,
        }),
      );
    },
  );

  it('`mrv collector` exits 1 with the error before connecting, and its help names the flag', async () => {
    const c = await run([
      'collector',
      '--mqtt',
      'mqtt://127.0.0.1:1',
      '--insecure-unsigned',
      '--sqlite',
      '/nonexistent/x.sqlite',
      '--max-writes-in-flight',
      '0',
    ]);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('MRV_E_CONFIG: --max-writes-in-flight: expected a whole number');
    expect(c.stderr).toContain('got "0"');
    const help = await run(['help']);
    expect(`${help.stdout}${help.stderr}`).toContain('--max-writes-in-flight N (1-32, default 4)');
  });
});
