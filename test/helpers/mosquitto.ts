/**
 * A throw-away Mosquitto 2.0 broker for integration tests (docs/development.md), configured like production
 * should be: `max_queued_messages 0` (the default 1000 silently drops QoS 1 messages for a lagging
 * subscriber), persistence on, so sessions and queued messages survive a restart.
 *
 * Optionally (issue 4 item 5) a TLS listener with a throw-away PKI made per broker (test-pki.ts: a CA,
 * a server certificate for IP 127.0.0.1, client certificates), client certificates required, and
 * username/password accounts in a `password_file` made with `mosquitto_passwd`. Without those options
 * the broker is the plain, anonymous one it always was.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { canConnect, getFreePort, waitFor } from './free-port.ts';
import { issueCert, makeCa, type TestCa, type TestCert } from './test-pki.ts';
import { spawnTied, type TiedProcess } from './tied-process.ts';

/** Where Debian's `mosquitto` package puts the broker (`/usr/sbin` is not on every user's PATH). */
export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';
/** `mosquitto_passwd`, from the same package. */
export const MOSQUITTO_PASSWD_PATH = '/usr/bin/mosquitto_passwd';

/** TLS options of {@link startMosquitto}. */
export interface MosquittoTlsOptions {
  /**
   * `require_certificate true`: a client must present a certificate signed by the test CA. With
   * `identityAsUsername` (default true when certificates are required and no `users` are given) the
   * certificate's CN is the MQTT username and no password is asked (`use_identity_as_username true`).
   */
  requireCertificate?: boolean;
  identityAsUsername?: boolean;
  /** CNs of the client certificates to issue; default `['mrv-client']`. */
  clients?: string[];
}

/** The test PKI of a TLS broker (PEM files in the broker's temp folder). */
export interface MosquittoTls {
  /** The CA that signed the server and client certificates: the clients' `ca`. */
  ca: TestCa;
  /** The broker's certificate (CN and subjectAltName 127.0.0.1) and key. */
  server: TestCert;
  /** Client certificates by CN. */
  clients: Record<string, TestCert>;
  /** Where to put more PKI files (e.g. a second, untrusted CA). */
  dir: string;
}

/** Options of {@link startMosquitto}. */
export interface MosquittoOptions {
  /** Lines appended to the generated config (later lines win for single-valued options). */
  extraConfig?: string;
  /** A TLS listener (`mqtts://`) instead of plain MQTT; `true` = server TLS only, anonymous clients allowed. */
  tls?: boolean | MosquittoTlsOptions;
  /**
   * username → password accounts (`password_file`, made with `mosquitto_passwd -b`); anonymous access
   * is then off. With or without TLS.
   */
  users?: Record<string, string>;
  /**
   * Debian's Mosquitto as installed, at its default settings: `max_queued_messages 1000` (QoS 1
   * messages beyond it are dropped for a lagging or offline subscriber) and no persistence (a restart
   * forgets every session and queued message). Default false: the production-like settings below.
   */
  defaults?: boolean;
  /**
   * A config of one's own instead of the generated one (e.g. the shipped deploy/mosquitto/mosquitto.conf
   * with its paths and ports replaced), given the broker's temp folder, port, password file and PKI. It
   * must listen on 127.0.0.1:`port`; `log_dest file <dir>/mosquitto.log` is appended, and `user`.
   */
  config?: (c: { dir: string; port: number; passwordFile?: string; tls?: MosquittoTls }) => string;
}

/** A running test broker. */
export interface MosquittoServer {
  /** `mqtt://127.0.0.1:PORT`, or `mqtts://127.0.0.1:PORT` with TLS. */
  url: string;
  /** The test PKI when started with `tls`. */
  tls?: MosquittoTls;
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

/** Config lines for the listener's security: TLS files, certificate and password checks. */
interface Security {
  tls?: {
    cafile: string;
    certfile: string;
    keyfile: string;
    requireCertificate: boolean;
    identityAsUsername: boolean;
  };
  passwordFile?: string;
}

function config(dir: string, port: number, extra: string, sec: Security = {}, defaults = false): string {
  const t = sec.tls;
  const anonymous = !sec.passwordFile && !t?.requireCertificate;
  return [
    `listener ${port} 127.0.0.1`,
    // A listener line turns anonymous access off unless it is allowed explicitly.
    `allow_anonymous ${anonymous}`,
    ...(t
      ? [
          `cafile ${t.cafile}`,
          `certfile ${t.certfile}`,
          `keyfile ${t.keyfile}`,
          `require_certificate ${t.requireCertificate}`,
          ...(t.requireCertificate ? [`use_identity_as_username ${t.identityAsUsername}`] : []),
        ]
      : []),
    ...(sec.passwordFile ? [`password_file ${sec.passwordFile}`] : []),
    ...(defaults
      ? []
      : [
          // 0 = unlimited. The default 1000 drops QoS 1 messages silently (docs/development.md, measured 26-33 % loss).
          'max_queued_messages 0',
          'persistence true',
          `persistence_location ${dir}/data/`,
          // Save after every change (message queued, subscription, retained message) instead of every 30 min,
          // so kill9() loses at most what arrived in the broker's current loop iteration. Tests only: this
          // rewrites the whole database each time.
          'autosave_on_changes true',
          'autosave_interval 1',
        ]),
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

/** Makes the PKI and the password file in `dir` for the options that ask for them. */
async function prepareSecurity(
  dir: string,
  options: MosquittoOptions,
): Promise<{ sec: Security; tls?: MosquittoTls }> {
  const sec: Security = {};
  let tls: MosquittoTls | undefined;
  if (options.tls) {
    const o = options.tls === true ? {} : options.tls;
    const pkiDir = path.join(dir, 'pki');
    await mkdir(pkiDir);
    const ca = await makeCa(pkiDir, 'mrv-test');
    const [server, ...clients] = await Promise.all([
      issueCert(ca, pkiDir, '127.0.0.1', 'server'),
      ...(o.clients ?? ['mrv-client']).map((cn) => issueCert(ca, pkiDir, cn, 'client')),
    ]);
    tls = {
      ca,
      server: server as TestCert,
      clients: Object.fromEntries(clients.map((c) => [c.name, c])),
      dir: pkiDir,
    };
    const requireCertificate = o.requireCertificate ?? false;
    sec.tls = {
      cafile: ca.certFile,
      certfile: tls.server.certFile,
      keyfile: tls.server.keyFile,
      requireCertificate,
      identityAsUsername: o.identityAsUsername ?? (requireCertificate && !options.users),
    };
  }
  if (options.users) {
    const file = path.join(dir, 'passwd');
    let create = true;
    for (const [user, password] of Object.entries(options.users)) {
      // -b: password from the command line (fine for throw-away test accounts); -c: new file.
      await promisify(execFile)(MOSQUITTO_PASSWD_PATH, [
        ...(create ? ['-c'] : []),
        '-b',
        file,
        user,
        password,
      ]);
      create = false;
    }
    sec.passwordFile = file;
  }
  return tls ? { sec, tls } : { sec };
}

/**
 * Starts `mosquitto -c <tmp>/mosquitto.conf` on a free loopback port and waits until it accepts TCP
 * connections (10 s). `extraConfig` lines are appended to the generated config (later lines win for
 * single-valued options); `tls` and `users` add a TLS listener and accounts (see {@link MosquittoOptions}).
 * @throws Error naming `scripts/setup-test-deps.sh` when mosquitto (or openssl) is not installed; Error
 *   with the broker's log when it does not come up.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoServer> {
  if (!existsSync(MOSQUITTO_PATH)) {
    throw new Error(
      `${MOSQUITTO_PATH} not found: run scripts/setup-test-deps.sh (installs Debian's mosquitto)`,
    );
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mrv-mosquitto-'));
  await mkdir(path.join(dir, 'data'));
  let security: Awaited<ReturnType<typeof prepareSecurity>>;
  try {
    security = await prepareSecurity(dir, options);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
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
      await writeFile(
        conf,
        options.config
          ? [
              options.config({
                dir,
                port,
                ...(security.sec.passwordFile ? { passwordFile: security.sec.passwordFile } : {}),
                ...(security.tls ? { tls: security.tls } : {}),
              }),
              `log_dest file ${dir}/mosquitto.log`,
              `user ${os.userInfo().username}`,
              '',
            ].join('\n')
          : config(dir, port, options.extraConfig ?? '', security.sec, options.defaults),
      );
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
    url: `${security.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    ...(security.tls ? { tls: security.tls } : {}),
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
