/**
 * A throw-away NATS cluster for integration tests and benchmarks (docs/scale-out.md, docs/development.md
 * §3): N real `nats-server` processes (Debian's 2.9.x), each with JetStream and its own store folder, a
 * client port, a cluster (route) port, an MQTT listener and a monitoring port, all on 127.0.0.1 free ports.
 * Every node names all the others in `cluster.routes`, so any node can be killed and restarted alone.
 * A node can be SIGKILLed (`kill9`) like a crash and started again (`restart`) with its store folder,
 * on the same ports.
 *
 * Mirrors test/helpers/mosquitto.ts and influxdb.ts: processes tied to the test process
 * (tied-process.ts), temp folders removed on `stop()`.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canConnect, getFreePort, waitFor } from './free-port.ts';
import { spawnTied, type TiedProcess } from './tied-process.ts';

/** Where Debian's `nats-server` package puts the server (`/usr/sbin` is not on every user's PATH). */
export const NATS_SERVER_PATH = '/usr/sbin/nats-server';

/** One node of a {@link NatsCluster}. */
export interface NatsNode {
  /** `server_name`, e.g. `n1`: JetStream and MQTT need one per node. */
  name: string;
  /** `nats://127.0.0.1:PORT`: the client listener. */
  url: string;
  /** `mqtt://127.0.0.1:PORT`: the MQTT listener. */
  mqttUrl: string;
  port: number;
  mqttPort: number;
  clusterPort: number;
  /** The monitoring port (`/healthz`, `/jsz`, `/varz`). */
  httpPort: number;
  /** The node's folder: `nats.conf`, `nats.log`, `jetstream/` (the store). */
  dir: string;
  /** True while the process runs. */
  running(): boolean;
  /** SIGKILLs the node now, like a crash; resolves once it has exited. */
  kill9(): Promise<void>;
  /** Starts the node again with its config and store (after `kill9()`, or stopping it gracefully first). */
  restart(): Promise<void>;
  /** The node's log so far (for assertion messages). */
  log(): Promise<string>;
}

/** A running test cluster. */
export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's client URL, for `--nats-servers`. */
  urls: string[];
  /** Stops every node (SIGTERM, SIGKILL after 5 s) and removes the temp folder. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** Number of nodes; default 3. 1 = a single node without a cluster block. */
  nodes?: number;
  /** Lines added inside each node's config (top level). */
  extraConfig?: string;
}

interface Ports {
  port: number;
  mqttPort: number;
  clusterPort: number;
  httpPort: number;
}

function config(name: string, dir: string, mine: Ports, all: Ports[], extra: string): string {
  const routes = all.filter((p) => p !== mine).map((p) => `nats-route://127.0.0.1:${p.clusterPort}`);
  return [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${mine.port}`,
    `http: 127.0.0.1:${mine.httpPort}`,
    'jetstream {',
    `  store_dir: "${path.join(dir, 'jetstream')}"`,
    '  max_memory_store: 64MB',
    '  max_file_store: 2GB',
    '}',
    ...(all.length > 1
      ? [
          'cluster {',
          '  name: mrv',
          `  listen: 127.0.0.1:${mine.clusterPort}`,
          `  routes: [${routes.join(', ')}]`,
          '}',
        ]
      : []),
    'mqtt {',
    `  listen: 127.0.0.1:${mine.mqttPort}`,
    // How long the server waits for an MQTT client's PUBACK before redelivering a QoS 1 message.
    '  ack_wait: "30s"',
    // Replicas of the MQTT listener's own streams (sessions, retained and QoS 1 messages): left to
    // itself, 2.9 sizes them by the nodes it sees when the first MQTT client connects (2 of 3 measured).
    `  stream_replicas: ${Math.min(all.length, 3)}`,
    '}',
    `log_file: "${path.join(dir, 'nats.log')}"`,
    'logtime: true',
    extra,
    '',
  ].join('\n');
}

/** Whether the node's monitoring endpoint says it is healthy, JetStream included (`/healthz`). */
async function healthy(httpPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts an N-node NATS cluster with JetStream and MQTT on free loopback ports and waits until every
 * node answers `/healthz` (JetStream meta leader elected, 60 s).
 * @throws Error naming `scripts/setup-test-deps.sh` when nats-server is not installed; Error with a
 *   node's log when it does not come up.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  // Every node's config names every node's ports, so they are all chosen before the first starts: a
  // port another test file binds meanwhile makes a node exit ("address already in use", seen in CI).
  // Then the whole cluster starts again on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

async function startNatsClusterOnce(options: NatsClusterOptions): Promise<NatsCluster> {
  if (!existsSync(NATS_SERVER_PATH))
    throw new Error(
      `${NATS_SERVER_PATH} not found: run scripts/setup-test-deps.sh (installs Debian's nats-server)`,
    );
  const n = options.nodes ?? 3;
  const root = await mkdtemp(path.join(os.tmpdir(), 'mrv-nats-'));
  const ports: Ports[] = [];
  for (let i = 0; i < n; i++)
    ports.push({
      port: await getFreePort(),
      mqttPort: await getFreePort(),
      clusterPort: await getFreePort(),
      httpPort: await getFreePort(),
    });
  const nodes: NatsNode[] = [];
  const procs: (TiedProcess | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const name = `n${i + 1}`;
    const dir = path.join(root, name);
    await mkdir(path.join(dir, 'jetstream'), { recursive: true });
    const mine = ports[i] as Ports;
    const conf = path.join(dir, 'nats.conf');
    await writeFile(conf, config(name, dir, mine, ports, options.extraConfig ?? ''));
    const readLog = () => readFile(path.join(dir, 'nats.log'), 'utf8').catch(() => '');
    const launch = async (): Promise<void> => {
      const p = await spawnTied(NATS_SERVER_PATH, ['-c', conf], { cwd: dir, orphanCleanupDir: root });
      procs[i] = p;
      try {
        await waitFor(`nats-server ${name} on 127.0.0.1:${mine.port}`, () => canConnect(mine.port), {
          timeoutMs: 20_000,
          abort: () => (p.running() ? undefined : new Error(`nats-server ${name} exited during start`)),
        });
      } catch (err) {
        await p.stop();
        throw new Error(
          `nats-server ${name} did not start: ${(err as Error).message}\n--- output ---\n${p.tail()}\n--- log ---\n${(await readLog()).slice(-4000)}`,
          { cause: err },
        );
      }
    };
    nodes.push({
      name,
      url: `nats://127.0.0.1:${mine.port}`,
      mqttUrl: `mqtt://127.0.0.1:${mine.mqttPort}`,
      ...mine,
      dir,
      running: () => procs[i]?.running() ?? false,
      kill9: async () => {
        const p = procs[i];
        if (!p) return;
        p.kill9();
        await p.exited;
      },
      restart: async () => {
        await procs[i]?.stop();
        await launch();
      },
      log: readLog,
    });
    // Launched in order; the nodes find each other through their routes.
    try {
      await launch();
    } catch (err) {
      await Promise.all(procs.map((p) => p?.stop()));
      await rm(root, { recursive: true, force: true });
      throw err;
    }
  }
  let stopped = false;
  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((x) => x.url),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await Promise.all(procs.map((p) => p?.stop()));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      'every NATS node healthy (JetStream meta leader)',
      async () => (await Promise.all(ports.map((p) => healthy(p.httpPort)))).every(Boolean),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (err) {
    const logs = await Promise.all(
      nodes.map(async (x) => `--- ${x.name} ---\n${(await x.log()).slice(-3000)}`),
    );
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${logs.join('\n')}`, { cause: err });
  }
  return cluster;
}
