/**
 * Debian's python3-pymodbus (3.0.x) as a Modbus slave nobody here wrote (test/helpers/pymodbus-server.py),
 * for interoperability tests. Run with /usr/bin/python3, never a virtualenv's interpreter.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, getFreePort, waitFor } from './free-port.ts';
import { spawnTied } from './tied-process.ts';

const SCRIPT = new URL('./pymodbus-server.py', import.meta.url).pathname;

/** One typed value for the script to encode with Python's struct module. */
export interface PyValue {
  table: 'hr' | 'ir';
  address: number;
  type: string;
  order?: string;
  value: string;
  bit?: number;
  count?: number;
}

/** The slave's image per unit id (see pymodbus-server.py). */
export type PyImage = Record<
  number,
  { hr?: number[]; ir?: number[]; co?: number[]; di?: number[]; values?: PyValue[] }
>;

/** A running pymodbus slave. */
export interface PyModbus {
  /** TCP port (tcp and rtu-over-tcp modes). */
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts pymodbus as a Modbus TCP, RTU-over-TCP (on a free loopback port) or RTU (on `path`, 9600 8N1) slave.
 * @throws Error with the script's output when it does not come up within 15 s
 */
export async function startPymodbus(
  mode: 'tcp' | 'rtu-over-tcp' | 'rtu',
  image: PyImage,
  path?: string,
): Promise<PyModbus> {
  const dir = mkdtempSync(join(tmpdir(), 'mrv-pymodbus-'));
  const file = join(dir, 'image.json');
  writeFileSync(file, JSON.stringify(image));
  const port = mode === 'rtu' ? 0 : await getFreePort();
  const proc = await spawnTied(
    '/usr/bin/python3',
    [SCRIPT, mode, mode === 'rtu' ? (path ?? '') : String(port), file],
    {
      orphanCleanupDir: dir,
    },
  );
  const exited = () => (proc.running() ? undefined : new Error(`pymodbus exited:\n${proc.tail()}`));
  await waitFor('pymodbus READY', async () => proc.tail().includes('READY'), {
    timeoutMs: 15_000,
    abort: exited,
  });
  if (mode !== 'rtu')
    await waitFor(`pymodbus on ${port}`, () => canConnect(port), { timeoutMs: 15_000, abort: exited });
  return {
    port,
    stop: async () => {
      await proc.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
