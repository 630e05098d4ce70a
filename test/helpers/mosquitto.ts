/**
 * A throw-away Mosquitto 2.0 broker for integration tests (TOOLCHAIN.md), configured like production
 * should be: `max_queued_messages 0` (the default 1000 silently drops QoS 1 messages for a lagging
 * subscriber), persistence on, so sessions and queued messages survive a restart.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canConnect, getFreePort, waitFor } from './free-port.ts';
import { spawnTied, type TiedProcess } from './tied-process.ts';

/** Where Debian's `mosquitto` package puts the broker (`/usr/sbin` is not on every user's PATH). */
export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';

/** A running test broker. */
export interface MosquittoServer {
  /** `mqtt://127.0.0.1:PORT`. */
  url: string;
  /** TCP port on 127.0.0.1, the same across restarts. */
  port: number;
  /** Temp folder with `mosquitto.conf`, `mosquitto.log` and `data/` (persistence). */
  dir: string;
  /** Stops the broker (SIGTERM: it saves its database; SIGKILL after 5 s) and removes the temp folder. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs the broker now, like a crash: it saves nothing on the way out. */
  kill9(): void;
  /**
   * Starts the broker again on the same port with the same config and persistence: after `kill9()`, or
   * stopping a running broker gracefully first (SIGTERM, it saves its database).
   */
  restart(): Promise<void>;
  /** The broker's log so far (for assertion messages). */
  log(): Promise<string>;
}

function config(dir: string, port: number, extra: string): string {
  return [
    `listener ${port} 127.0.0.1`,
    // A listener line turns anonymous access off unless it is allowed explicitly.
    'allow_anonymous true',
    // 0 = unlimited. The default 1000 drops QoS 1 messages silently (TOOLCHAIN.md, measured 26-33 % loss).
    'max_queued_messages 0',
    'persistence true',
    `persistence_location ${dir}/data/`,
    // Save after every change (message queued, subscription, retained message) instead of every 30 min,
    // so kill9() loses at most what arrived in the broker's current loop iteration. Tests only: this
    // rewrites the whole database each time.
    'autosave_on_changes true',
    'autosave_interval 1',
    `log_dest file ${dir}/mosquitto.log`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    // Run as root, mosquitto would switch to the `mosquitto` user, which cannot write the temp folder;
    // naming the current user keeps it as is (the option does nothing for non-root users).
    `user ${os.userInfo().username}`,
    extra,
    '',
  ].join('\n');
}

/**
 * Starts `mosquitto -c <tmp>/mosquitto.conf` on a free loopback port and waits until it accepts TCP
 * connections (10 s). `extraConfig` lines are appended to the generated config (later lines win for
 * single-valued options).
 * @throws Error naming `scripts/setup-test-deps.sh` when mosquitto is not installed; Error with the
 *   broker's log when it does not come up.
 */
export async function startMosquitto(options: { extraConfig?: string } = {}): Promise<MosquittoServer> {
  if (!existsSync(MOSQUITTO_PATH)) {
    throw new Error(
      `${MOSQUITTO_PATH} not found: run scripts/setup-test-deps.sh (installs Debian's mosquitto)`,
    );
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mrv-mosquitto-'));
  await mkdir(path.join(dir, 'data'));
  const conf = path.join(dir, 'mosquitto.conf');
  const logFile = path.join(dir, 'mosquitto.log');
  const readLog = () => readFile(logFile, 'utf8').catch(() => '');
  let port = 0;
  let proc: TiedProcess | undefined;

  const launch = async (): Promise<void> => {
    const p = await spawnTied(MOSQUITTO_PATH, ['-c', conf], { cwd: dir, orphanCleanupDir: dir });
    proc = p;
    try {
      await waitFor(`Mosquitto on 127.0.0.1:${port}`, () => canConnect(port), {
        timeoutMs: 10_000,
        abort: () => (p.running() ? undefined : new Error('mosquitto exited during start')),
      });
    } catch (err) {
      await p.stop();
      throw new Error(
        `Mosquitto did not start on port ${port}: ${(err as Error).message}\n--- output ---\n${p.tail()}\n--- ${logFile} ---\n${await readLog()}`,
        { cause: err },
      );
    }
  };

  try {
    // Another process may take the "free" port first ("Address already in use"); try a new port twice more.
    for (let attempt = 1; ; attempt++) {
      port = await getFreePort();
      await writeFile(conf, config(dir, port, options.extraConfig ?? ''));
      try {
        await launch();
        break;
      } catch (err) {
        if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped = false;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dir,
    kill9: () => proc?.kill9(),
    restart: async () => {
      if (stopped) throw new Error('mosquitto helper: restart() after stop()');
      if (proc !== undefined) {
        await proc.stop(); // graceful when still running; after kill9() it only waits for the exit
      }
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await proc?.stop();
      await rm(dir, { recursive: true, force: true });
    },
    log: readLog,
  };
}
