/**
 * A throw-away PostgreSQL server for integration tests (Debian's `postgresql` package): `initdb` in a
 * temp folder, `postgres` on a free loopback port with its socket in that folder, trust
 * authentication for loopback only, no fsync (the data is thrown away). Tied to the test process
 * (tied-process.ts), so it never outlives it.
 *
 * PostgreSQL refuses to run as root. When the tests run as root, `initdb` and `postgres` run as the
 * `postgres` system user (made by the Debian package) through `setpriv`, which execs in place: the
 * pid we hold is the postmaster's, and killing it ends the server. Measured here (2 cores, busy):
 * `initdb` 1.5-6 s, start-up well under 1 s.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { canConnect, getFreePort, waitFor } from './free-port.ts';
import { spawnTied, type TiedProcess } from './tied-process.ts';

/** Folder of Debian's PostgreSQL binaries (the newest installed major version), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/** A running test server. */
export interface PostgresServer {
  /**
   * `postgres://mrv@127.0.0.1:PORT/postgres`: trust authentication, or with `password` given to
   * {@link startPostgres} SCRAM over TCP (the URL then needs the password; the socket stays trusted).
   */
  url: string;
  port: number;
  dir: string;
  process: TiedProcess;
  /** Makes a new empty database and answers its URL (one per test keeps tests apart). */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** The command prefix that runs `bin` as a non-root user when we are root. */
function asPostgresUser(bin: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [bin, args];
  return ['/usr/bin/setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', bin, ...args]];
}

/**
 * Starts a PostgreSQL server (see the file comment) and waits until it accepts queries (30 s).
 * @throws Error naming `scripts/setup-test-deps.sh` when PostgreSQL is not installed; Error with the
 *   server's output when it does not come up
 */
export async function startPostgres(options: { password?: string } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === undefined)
    throw new Error(
      'PostgreSQL not found in /usr/lib/postgresql: run scripts/setup-test-deps.sh (installs postgresql)',
    );
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mrv-postgres-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
  }
  const run = promisify(execFile);
  let auth = ['--auth=trust'];
  if (options.password !== undefined) {
    const pwfile = path.join(dir, 'pwfile');
    await writeFile(pwfile, `${options.password}\n`, { mode: 0o644 });
    auth = ['--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`];
  }
  const [initCmd, initArgs] = asPostgresUser(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'mrv',
    ...auth,
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ]);
  try {
    await run(initCmd, initArgs, { timeout: 120_000 });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as Error).message}`);
  }
  const port = await getFreePort();
  const [cmd, args] = asPostgresUser(path.join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-h',
    '127.0.0.1',
    '-k',
    dir,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
  ]);
  const proc = await spawnTied(cmd, args, { orphanCleanupDir: dir });
  const url = `postgres://mrv@127.0.0.1:${port}/postgres`;
  const psql = path.join(bin, 'psql');
  // psql over the Unix socket in `dir` (trusted even when TCP asks for a password).
  const socketArgs = ['-X', '-q', '-h', dir, '-p', String(port), '-U', 'mrv', '-d', 'postgres'];
  const ready = async () => {
    if (!(await canConnect(port))) return false;
    try {
      await run(psql, [...socketArgs, '-c', 'select 1'], { timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  };
  try {
    await waitFor('PostgreSQL to accept queries', ready, {
      timeoutMs: 30_000,
      intervalMs: 100,
      abort: () => (proc.running() ? undefined : new Error(`postgres exited:\n${proc.tail()}`)),
    });
  } catch (err) {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    dir,
    process: proc,
    createDatabase: async (name: string) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      await run(psql, [...socketArgs, '-c', `create database ${name}`], { timeout: 30_000 });
      return `postgres://mrv@127.0.0.1:${port}/${name}`;
    },
    stop: async () => {
      await proc.stop(10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** uid and gid of the `postgres` system user (from `id`). */
async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error('running as root needs the postgres system user (Debian package postgresql)');
  return { uid, gid };
}
