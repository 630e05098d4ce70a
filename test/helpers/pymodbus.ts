/**
 * Debian's python3-pymodbus (3.0.x) as a Modbus slave nobody here wrote (test/helpers/pymodbus-server.py),
 * for interoperability tests. Run with /usr/bin/python3, never a virtualenv's interpreter.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Wire faults of the slave (see pymodbus-server.py): pymodbus computes each answer, then it is sent
 * `delay_ms` late, sent again `duplicate_ms` after the first copy, replayed unasked every
 * `out_of_turn_ms`, or (`short`) cut by one register with a matching byte count.
 */
export interface PyFaults {
  delay_ms?: number;
  duplicate_ms?: number;
  out_of_turn_ms?: number;
  short?: boolean;
}

/** A running pymodbus slave. */
export interface PyModbus {
  /** TCP port (tcp and rtu-over-tcp modes). */
  port: number;
  /** Replaces the wire faults (`{}` for none); the slave applies them from its next answer on. */
  setFaults(faults: PyFaults): void;
  /** The slave's process id (for fd counts and signals). */
  pid: number;
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
  const faultsFile = join(dir, 'faults.json');
  let generation = 0;
  const setFaults = (faults: PyFaults) => {
    // Write and rename, so that the slave never reads half a file.
    const tmp = `${faultsFile}.${generation++}`;
    writeFileSync(tmp, JSON.stringify(faults));
    renameSync(tmp, faultsFile);
  };
  const port = mode === 'rtu' ? 0 : await getFreePort();
  const proc = await spawnTied(
    '/usr/bin/python3',
    [SCRIPT, mode, mode === 'rtu' ? (path ?? '') : String(port), file, faultsFile],
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
    setFaults,
    pid: proc.pid,
    stop: async () => {
      await proc.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
