/**
 * `mrv read` as an engineer runs it (a real process): against Debian's python3-pymodbus over Modbus
 * TCP and RTU (socat pty pair), and against the cement simulator, with exact values, JSON output and
 * the exit codes of the failures (1 bad reading, 2 usage).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/time.ts';
import { type CementSimulator, startCementSimulator } from '../../simulators/cement/server.ts';
import { CEMENT_START } from '../helpers/cement-device.ts';
import { type PyModbus, startPymodbus } from '../helpers/pymodbus.ts';
import { type PtyPair, startPtyPair } from '../helpers/socat.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = join(root, 'bin/mrv.js');

/** Runs `mrv read ...`; never rejects. */
function read(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mrv, 'read', ...args],
      { cwd: root, timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

let py: PyModbus;
let pyRtu: PyModbus;
let pty: PtyPair;
let sim: CementSimulator;
const clock = new ManualClock(CEMENT_START + 86_400_000);

beforeAll(async () => {
  const image = {
    1: {
      values: [
        { table: 'hr' as const, address: 0, type: 'float32', order: 'CDAB', value: '412.37' },
        {
          table: 'hr' as const,
          address: 2,
          type: 'uint64',
          order: 'HGFEDCBA',
          value: '18446744073709551615',
        },
        { table: 'hr' as const, address: 6, type: 'int16', order: 'BA', value: '-1234' },
        { table: 'ir' as const, address: 0, type: 'string', order: 'AB', value: 'MRV-OK', count: 4 },
      ],
      co: [0, 0, 0, 1],
    },
  };
  [py, pty, sim] = await Promise.all([
    startPymodbus('tcp', image),
    startPtyPair(),
    startCementSimulator({ clock, start: CEMENT_START, seed: 4 }),
  ]);
  pyRtu = await startPymodbus('rtu', image, pty.a);
});
afterAll(async () => {
  await Promise.all([py?.stop(), pyRtu?.stop(), sim?.stop()]);
  await pty?.stop();
});

describe('mrv read against pymodbus', () => {
  it('prints exact decimals for a float32 CDAB, a uint64 HGFEDCBA and a scaled int16 BA', async () => {
    const url = `modbus-tcp://127.0.0.1:${py.port}`;
    const [f, u, i] = await Promise.all([
      read(
        url,
        '--unit-id',
        '1',
        '--table',
        'holding',
        '--address',
        '0',
        '--type',
        'float32',
        '--order',
        'CDAB',
      ),
      read(url, '--address', '2', '--type', 'uint64', '--order', 'HGFEDCBA'),
      read(url, '--address', '6', '--type', 'int16', '--order', 'BA', '--scale', '0.1'),
    ]);
    expect([f, u, i].map((r) => [r.code, r.stdout])).toEqual([
      [0, '412.37\n'],
      [0, '18446744073709551615\n'],
      [0, '-123.4\n'],
    ]);
  });

  it('reads a coil and a string, and prints the whole reading with --json', async () => {
    const url = `modbus-tcp://127.0.0.1:${py.port}`;
    const [coil, text] = await Promise.all([
      read(url, '--table', 'coil', '--address', '3', '--type', 'bool', '--json'),
      read(url, '--table', 'input', '--address', '0', '--type', 'string', '--count', '4'),
    ]);
    expect(coil.code).toBe(0);
    const r = JSON.parse(coil.stdout) as Record<string, unknown>;
    expect(r).toMatchObject({ value: '1', quality: 'good' });
    expect(r.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(r.rxTs).toBe(r.ts);
    expect(text).toMatchObject({ code: 0, stdout: 'MRV-OK\n' });
  });

  it('reads over RTU on a serial line', async () => {
    const r = await read(
      `modbus-rtu://${pty.b}?baud=9600&parity=none`,
      '--unit-id',
      '1',
      '--address',
      '0',
      '--type',
      'float32',
      '--order',
      'CDAB',
    );
    expect(r).toMatchObject({ code: 0, stdout: '412.37\n' });
  });
});

describe('mrv read against the cement simulator', () => {
  it('reads the clinker totalizer exactly (uint32 CDAB kg × 0.001)', async () => {
    sim.model.advanceTo(clock.now());
    const kg = sim.model.feeder('clinker').totalKg;
    const r = await read(
      `modbus-tcp://127.0.0.1:${sim.ports.tcp}`,
      '--unit-id',
      '1',
      '--address',
      '2',
      '--type',
      'uint32',
      '--order',
      'CDAB',
      '--scale',
      '0.001',
    );
    expect(r.stdout).toBe(`${String(kg / 1000)}\n`);
  });

  it('exits 1 with the reason for a timeout and for an exception, 2 for a wrong command line', async () => {
    const url = `modbus-tcp://127.0.0.1:${sim.ports.tcp}`;
    const [silent, exception, badType, badOrder, noAddress, scheme] = await Promise.all([
      read(url, '--unit-id', '9', '--address', '0', '--type', 'uint16', '--timeout', '300', '--json'),
      read(url, '--unit-id', '1', '--address', '200', '--type', 'uint16'),
      read(url, '--address', '0', '--type', 'uint24'),
      read(url, '--address', '0', '--type', 'float32', '--order', 'BA'),
      read(url, '--type', 'uint16'),
      read('http://127.0.0.1', '--address', '0', '--type', 'uint16'),
    ]);
    expect(silent.code).toBe(1);
    expect(JSON.parse(silent.stdout)).toMatchObject({ value: null, quality: 'bad' });
    expect(silent.stderr).toMatch(/MRV_E_MODBUS_TIMEOUT/);
    expect(exception).toMatchObject({ code: 1, stdout: '' });
    expect(exception.stderr).toMatch(/MRV_E_MODBUS_EXCEPTION: holding 200\+1: .*exception 2/i);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/--type: Invalid option/);
    expect(badOrder.code).toBe(2);
    expect(badOrder.stderr).toMatch(/--order: order BA does not fit float32/);
    expect(noAddress.code).toBe(2);
    expect(noAddress.stderr).toMatch(/missing --address/);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/unknown scheme "http:"; supported: modbus-tcp:\/\//);
  });
});
