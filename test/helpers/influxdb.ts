/**
 * A throw-away InfluxDB 1.x server for integration tests (docs/development.md: Debian's `influxdb` 1.6.7).
 * Everything (config, meta, data, WAL, pid file) lives in a fresh temp folder that `stop()` removes;
 * HTTP and RPC bind to free loopback ports; no phone-home, no self-monitoring, no extra listeners.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getFreePort, waitFor } from './free-port.ts';
import { spawnTied, type TiedProcess } from './tied-process.ts';

/** Where Debian's `influxdb` package puts the server. */
export const INFLUXD_PATH = '/usr/bin/influxd';

/** A running test InfluxDB. */
export interface InfluxDbServer {
  /** Base URL, e.g. `http://127.0.0.1:38123` (no trailing slash). */
  url: string;
  /** HTTP port on 127.0.0.1. */
  port: number;
  /** The server's temp folder: `data/<database>` holds the TSM files, `wal/<database>` the write-ahead log. */
  dir: string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its temp folder. Idempotent. */
  stop(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers, like a hung or unplugged store. */
  pause(): void;
  /** Unfreezes it (SIGCONT) after {@link pause}. */
  resume(): void;
}

function config(dir: string, httpPort: number, rpcPort: number, dataLines: readonly string[]): string {
  return `reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${dir}/meta"
  logging-enabled = false

[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
${dataLines.map((l) => `  ${l}\n`).join('')}
[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  pprof-enabled = false

[logging]
  suppress-logo = true

[continuous_queries]
  log-enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`;
}

async function pingOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 204;
  } catch {
    return false;
  }
}

/**
 * Starts `influxd run -config <tmp>/influxdb.conf -pidfile <tmp>/influxd.pid` and waits until
 * `GET /ping` answers 204. Retries with new ports (up to 3 attempts) when influxd reports "address
 * already in use" (another process took a "free" port first).
 * @param options.timeoutMs how long to wait for `/ping` per attempt (default 20 000 ms)
 * @param options.dataConfig extra lines of the `[data]` section, e.g. `cache-snapshot-write-cold-duration = "1s"`
 * @throws Error naming `scripts/setup-test-deps.sh` when influxd is not installed; Error with the last
 *   lines of influxd's output when it does not come up in time or keeps exiting.
 */
export async function startInfluxDb(
  options: { timeoutMs?: number; dataConfig?: readonly string[] } = {},
): Promise<InfluxDbServer> {
  if (!existsSync(INFLUXD_PATH)) {
    throw new Error(`${INFLUXD_PATH} not found: run scripts/setup-test-deps.sh (installs Debian's influxdb)`);
  }
  const timeoutMs = options.timeoutMs ?? 20_000;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mrv-influxdb-'));
    const port = await getFreePort();
    const rpcPort = await getFreePort();
    const conf = path.join(dir, 'influxdb.conf');
    await writeFile(conf, config(dir, port, rpcPort, options.dataConfig ?? []));
    const url = `http://127.0.0.1:${port}`;
    let proc: TiedProcess | undefined;
    try {
      proc = await spawnTied(
        INFLUXD_PATH,
        ['run', '-config', conf, '-pidfile', path.join(dir, 'influxd.pid')],
        {
          cwd: dir,
          orphanCleanupDir: dir,
        },
      );
      const p = proc;
      await waitFor(`InfluxDB /ping on ${url}`, () => pingOk(url), {
        timeoutMs,
        intervalMs: 50,
        abort: () => (p.running() ? undefined : new Error('influxd exited during start')),
      });
      let stopped = false;
      return {
        url,
        port,
        dir,
        pause: () => {
          if (p.running()) process.kill(p.pid, 'SIGSTOP');
        },
        resume: () => {
          if (p.running()) process.kill(p.pid, 'SIGCONT');
        },
        stop: async () => {
          if (stopped) return;
          stopped = true;
          if (p.running()) process.kill(p.pid, 'SIGCONT'); // a stopped process ignores SIGTERM until continued
          await p.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      const tail = proc?.tail() ?? '';
      await proc?.stop();
      await rm(dir, { recursive: true, force: true });
      lastError = new Error(
        `InfluxDB did not start (attempt ${attempt}, ${url}): ${(err as Error).message}\n--- last lines of influxd output ---\n${tail}`,
        { cause: err },
      );
      // Only a lost race for a port is worth another try; a bad config or a hang would repeat.
      if (!/address already in use/i.test(tail)) break;
    }
  }
  throw lastError ?? new Error('InfluxDB did not start');
}
