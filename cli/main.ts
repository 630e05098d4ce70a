/**
 * `mrv` — one command line for every part (docs/architecture.md §2). Each sub-command is a thin composition
 * of the parts; the parts themselves know nothing of the command line.
 */
import { MrvError } from '../core/errors.ts';
import { suggest } from '../core/suggest.ts';
import { packageVersion } from '../ops/package-root.ts';

const USAGE = `mrv — carbon-mrv command line

  mrv demo [--port 8080] [--speed 1] [--start 2026-11-01T00:00:00+08:00] [--data-dir .data/demo] [--seed 42] [--units aluminium,cement,steel[,power]]
            [--sim-port-offset N] [--units-file units.yaml] [--evidence-threads N]
      the units' simulators + one gateway per site file + embedded broker, collector, store, web server;
      evidence is built in N worker threads (default half the cores, at least 1; 0 on the event loop);
      --sim-port-offset moves every simulator port (15020-15053, OPC UA 4841) and the site files' devices
      by N, so that several demos, or a demo and the tests, run side by side; the unit registry is seeded
      from the site files into DATA-DIR/units.yaml unless --units-file is given
  mrv gateway -c SITE.yaml [--mqtt URL] [--metrics-port N] [--watch]
      poll the site's devices and publish batches to the broker; SIGHUP (or, with --watch, a changed
      file) reloads the site file: validated whole first, unchanged devices keep polling, changed and
      new ones restart, the seq and the log go on; a file with problems leaves the running one
  mrv collector --mqtt URL [--store sqlite|influx] [--sqlite FILE] [--influx URL] [--db mrv] [--metrics-port N]
                (--keys REGISTRY | --insecure-unsigned) [--units-file units.yaml] [--client-id mrv-collector]
                [--username U --password-env VAR|--password-file F] (never a password in the URL)
                [--ca FILE] [--cert FILE --key FILE] [--keepalive S] [--max-writes-in-flight 4]
                [--share-group NAME [--gap-grace S] [--audit-interval S] [--leave]] [--live-topic]
                [--transport mqtt|nats --nats-servers nats://H:4222,... [--nats-replicas 3]
                 [--nats-ack-wait 30] [--nats-max-ack-pending 512]] [--province P]
      subscribe (persistent session), verify signatures (batches and meta) and hash chains, compare
      the gateways' meta with the unit registry (a difference is a finding), write readings, findings and
      the batch archive to the store, acknowledge after writing; with --share-group several collectors
      (each its own --client-id) share the data as $share/NAME/... and audit the archived chains;
      --leave removes the member --client-id from the group for good (stores what it holds, exits);
      --transport nats takes the batches from a replicated JetStream stream on a nats-server cluster
      instead (gateways speak MQTT to any node's MQTT listener): every collector shares one durable
      consumer, acknowledges after the store write, and audits the chains (docs/scale-out.md §6);
      --live-topic announces every stored batch for a server started with --live-mqtt;
      --max-writes-in-flight N (1-32, default 4): store writes in flight at once, acknowledged in order
      (1 = one write after the other; docs/delivery.md "Pipelined writes");
      --province P (needs --units-file) stores province P only: topics mrv/v1/P/..., NATS streams
      MRV_BATCHES_P/MRV_GATEWAYS_P; a unit the registry places elsewhere is dead-lettered, counted
  mrv server [--port 8080] [--host 127.0.0.1] [--mqtt URL (--keys REGISTRY | --insecure-unsigned) | --live-mqtt URL]
             [--username U --password-file F --ca FILE] [--store ...] [--data-dir .data] [--site SITE.yaml ...]
             [--units-file units.yaml] [--evidence-threads N]
             [--province P | --federate P=sqlite:FILE|P=influx:URL[?db=NAME] ...]
             [--trust-proxy ADDR,...|true] [--state-db FILE|postgres://USER@HOST/DB [--state-db-password-file F]]
      HTTP API and dashboard; with --mqtt it also runs a collector feeding the live view; with
      --live-mqtt the live view follows separate collectors' announcements (mrv collector --live-topic);
      --trust-proxy names the TLS proxy in front, whose X-Forwarded-For/-Proto are then believed;
      --units-file is the unit registry: the only source of units' names, provinces and scope;
      --province P: a province's server (its collectors' topics); --federate: the national view, read-only
      over every province's store (docs/scale-out.md §7), a province store down shows its units unavailable;
      accounts, sessions, audit log and findings workflow live in the state database (default
      DATA_DIR/state.sqlite; PostgreSQL for several instances)
  mrv registry seed SITE.yaml... [--out units.yaml]  |  mrv registry check units.yaml
      print a unit registry seeded from site files (check it, then give it to server and collector) /
      validate one
  mrv broker --accounts FILE [--port 1883] [--host 127.0.0.1]
      an embedded MQTT broker (aedes) letting in only the file's accounts, each limited to its topics
  mrv broker account add FILE USERNAME --role gateway|collector|live --password-file F
      add an account (gateways are named UNIT/GATEWAY); a missing F gets a random password
  mrv sim aluminium [--seed 42] [--speed 1] [--base-port 15020]
      Modbus TCP aluminium smelter simulator (ports base..base+3); --opcua adds the pot-line over
      OPC UA on port 4842 (--opcua-port)
  mrv sim steel [--port 4841] [--modbus-port 15040] [--seed 42] [--speed 1] [--fault ID=BadSensorFailure]
           [--outage-every S --outage-for S] [--no-subscriptions] [--users NAME:PASSWORD]
      steel plant (BOF ladles, fuel and gas flows, carbon-bearing outputs) over OPC UA, and its ladle
      scale's weighing indicator over Modbus TCP
  mrv sim cement [--seed 42] [--speed 1] [--port 15030] [--rtu-over-tcp-port 15031] [--rtu-path DEV]
      cement line scales (unit ids 1-6) over Modbus TCP, RTU over TCP and, with --rtu-path, RTU
  mrv sim power [--seed 42] [--speed 1] [--base-port 15050]
      coal-fired unit: coal feeders, bunker belt scale, generator, tariff and heat meters over Modbus
      TCP (ports base..base+3, as examples/power-plant.site.yaml names them)
  mrv read modbus-tcp://HOST:PORT|modbus-rtu:///dev/ttyX?baud=9600&parity=even --unit-id N --table T
           --address A --type T [--order O] [--scale S] [--count N] [--json]
      read one value once, exactly decoded (commissioning; mrv read --help)
  mrv read opc.tcp://HOST:PORT --node "ns=2;s=Tag" [--security None|Sign|SignAndEncrypt] [--user U
           --password-env VAR] [--pki DIR] [--json]
  mrv browse opc.tcp://HOST:PORT [--node NODEID] [--depth 3]
      read one OPC UA variable / list the address space to find NodeIds
  mrv pki list|trust|reject [--pki DIR] [THUMBPRINT|FILE]
      the gateway's OPC UA certificates: trust a server certificate that was rejected
  mrv sim hj212-platform [--port 9212] [--out FILE.jsonl]
      HJ 212 receiving platform: checks CRC, acknowledges (9014), stores what it got as JSON lines
  mrv uplink hj212 -c UPLINK.yaml [--store sqlite|influx] [--sqlite FILE] [--influx URL] [--db mrv]
      send a unit's minute/hour/day (and real-time) data to an HJ 212 platform, resuming after outages
  mrv check-config SITE.yaml [--timeout-ms N]   (default 3000 per Modbus device, 20000 per OPC UA device)
      validate a site file, read every device once and print each point's value and quality
  mrv points export SITE.yaml [--out POINTS.csv|POINTS.xlsx]   (CSV on stdout without --out)
  mrv points import SITE.yaml POINTS.csv|POINTS.xlsx [--out NEW.yaml]
      a site file's points as a table (one row per point, a column per field) and back: import replaces
      the points of the devices the table names, validates the whole site and names every problem by
      row and column; in place it keeps SITE.yaml.bak
  mrv token create --role admin|regulator|enterprise|metrologist [--scope province:NAME|unit:ID ...] [--data-dir .data]
  mrv token list|revoke ID [--data-dir .data]
      API tokens of the server in that data dir (mrv token help)
  mrv user add USERNAME --role admin|regulator|enterprise|metrologist [--scope ...] [--password-file F] [--data-dir .data]
  mrv user list|disable USERNAME|passwd USERNAME [--password-file F] [--state-db FILE|postgres://...]
      dashboard accounts (username + password) in the server's state database; the password from a
      file or a prompt, never the command line (mrv user help)

  mrv evidence --unit ID --month yyyy-mm [--format json|csv|html|xlsx] [--out FILE] [--site SITE.yaml] [--units-file units.yaml]
               [--readings-out FILE] [--key FILE] [--store sqlite|influx] [--sqlite FILE] [--influx URL]
               [--clock-tolerance-ms N] [--state-db FILE|postgres://... [--state-db-password-file F]]
      build and sign the monthly evidence package (月度存证) of a unit from the store
      (--clock-tolerance-ms: how late readings may be stamped; for mrv demo --speed N data, N × 250;
      --state-db: the meters' certificates from the server's meter ledger, as the server's evidence)
  mrv verify FILE (--trusted-keys FILE|DIR | --public-key FILE) [--factor-pack FILE]...
                  [--batches EXPORT --keys REGISTRY | --readings FILE]
      check an evidence package's signature and its factor pack (one of the shipped packs or a
      --factor-pack the verifier accepts) and, given its raw signed batches (mrv export-batches)
      or its readings, recompute its values; with batches also their signatures, chain and digest
  mrv verify RECEIPT (--trusted-keys FILE|DIR | --public-key FILE) [--package FILE]
      check a confirmation receipt (GET .../confirmations/{month}/versions/{n}/receipt): its
      signature and, with --package, that FILE is the frozen package it names (SHA-256)
  mrv factors [FILE] [--digest]
      a factor pack's id, version and digest (what mrv verify pins), and every factor's source
  mrv keygen --unit ID --gateway ID [--out DIR] [--force | --rotate]
      make a gateway's Ed25519 signing key (ID.key.pem) and its key-registry entry (ID.pub.json);
      --rotate keeps the old key valid for batches sent before now
  mrv keys revoke --unit ID --gateway ID --key-id FINGERPRINT [--at ISO] [--reason TEXT] [--out DIR]
      revoke a gateway key from --at (default now): later batches signed with it are a finding
  mrv export-batches --unit ID --gateway ID [--from-seq N] [--to-seq M] [--out FILE] [--store ...]
      export a gateway's archived signed batches as JSON lines
  mrv verify --keys REGISTRY (--batches FILE | --unit ID --gateway ID [--store ...]) [--from-seq N] [--to-seq M]
      check signatures, hash chain and seq of archived batches offline; names the first broken link

  Environment: MRV_LOG_LEVEL=debug|info|warn (logs are JSON lines on stderr)
`;

/**
 * One `mrv` command: its name, the lines of {@link USAGE} that describe it (what `mrv NAME --help`
 * prints) and how to run it. Commands load their module only when run, so `mrv --version` stays fast.
 */
export interface CommandSpec {
  /** The first word after `mrv`. */
  name: string;
  /** The command answers `--help` itself with a fuller text (read, browse); else {@link usageOf}. */
  ownHelp?: boolean;
  /** Runs the command with the words after its name; resolves with the exit code. */
  run: (args: string[]) => Promise<number>;
}

/** Every command of `mrv`, in the order of {@link USAGE}. */
export const COMMANDS: readonly CommandSpec[] = [
  { name: 'demo', run: async (a) => (await import('./commands.ts')).demo(a) },
  { name: 'gateway', run: async (a) => (await import('./gateway-command.ts')).gateway(a) },
  { name: 'collector', run: async (a) => (await import('./commands.ts')).collector(a) },
  { name: 'server', run: async (a) => (await import('./commands.ts')).server(a) },
  { name: 'broker', run: async (a) => (await import('./commands.ts')).broker(a) },
  {
    name: 'sim',
    run: async (a) =>
      a[0] === 'hj212-platform'
        ? (await import('./hj212.ts')).simPlatform(a.slice(1))
        : (await import('./commands.ts')).sim(a),
  },
  { name: 'read', ownHelp: true, run: async (a) => (await import('./read.ts')).read(a) },
  { name: 'browse', ownHelp: true, run: async (a) => (await import('./opcua.ts')).browse(a) },
  { name: 'pki', run: async (a) => (await import('./pki.ts')).pki(a) },
  { name: 'uplink', run: async (a) => (await import('./hj212.ts')).uplink(a) },
  { name: 'check-config', run: async (a) => (await import('./check-config.ts')).checkConfig(a) },
  { name: 'points', run: async (a) => (await import('./points.ts')).points(a) },
  { name: 'token', run: async (a) => (await import('./token.ts')).token(a) },
  { name: 'user', run: async (a) => (await import('./user.ts')).user(a) },
  { name: 'registry', run: async (a) => (await import('./unit-registry.ts')).registry(a) },
  { name: 'evidence', run: async (a) => (await import('./evidence.ts')).evidence(a) },
  { name: 'verify', run: async (a) => (await import('./evidence.ts')).verify(a) },
  { name: 'factors', run: async (a) => (await import('./factors.ts')).factorsCommand(a) },
  { name: 'keygen', run: async (a) => (await import('./keygen.ts')).keygen(a) },
  { name: 'keys', run: async (a) => (await import('./keygen.ts')).keys(a) },
  { name: 'export-batches', run: async (a) => (await import('./verify-batches.ts')).exportCommand(a) },
];

/**
 * The paragraphs of {@link USAGE} that describe `name` (a paragraph starts at a line `  mrv NAME ...` and
 * runs to the next such line of another command), with the environment line; undefined for no command.
 */
export function usageOf(name: string): string | undefined {
  const lines = USAGE.split('\n');
  const out: string[] = [];
  let inside = false;
  for (const line of lines) {
    const m = /^ {2}mrv ([a-z0-9-]+)/.exec(line);
    if (m) inside = m[1] === name;
    else if (line.trim() === '' || line.startsWith('  Environment:')) inside = false;
    if (inside) out.push(line);
  }
  if (out.length === 0) return undefined;
  return `${out.join('\n')}\n\n  Environment: MRV_LOG_LEVEL=debug|info|warn (logs are JSON lines on stderr)\n`;
}

/**
 * Start-up failures of the operating system named for the user (a port in use, a missing file, no
 * permission) instead of a stack trace; undefined for errors that are not one of them.
 */
export function systemErrorMessage(err: unknown): string | undefined {
  // The system error may be the cause of ours ("station potline cannot listen on ...": EADDRINUSE).
  let e = err as {
    code?: unknown;
    syscall?: unknown;
    address?: unknown;
    port?: unknown;
    path?: unknown;
    cause?: unknown;
    message?: unknown;
  };
  const context: string[] = [];
  for (let depth = 0; e && typeof e.code !== 'string' && e.cause !== undefined && depth < 5; depth++) {
    if (typeof e.message === 'string') context.push(e.message.split(':')[0] ?? '');
    e = e.cause as typeof e;
  }
  if (typeof e?.code !== 'string') return undefined;
  const said = systemErrorText(e);
  return said === undefined ? undefined : context.length > 0 ? `${said} (${context.join('; ')})` : said;
}

function systemErrorText(e: {
  code?: unknown;
  syscall?: unknown;
  address?: unknown;
  port?: unknown;
  path?: unknown;
}): string | undefined {
  const where = e.port !== undefined ? `${String(e.address ?? '')}:${String(e.port)}` : String(e.path ?? '');
  switch (e.code) {
    case 'EADDRINUSE':
      return `MRV_E_PORT_IN_USE: ${where} is already in use by another program; stop it or choose another port`;
    case 'EADDRNOTAVAIL':
      return `MRV_E_PORT_IN_USE: ${where} is not an address of this machine; choose one it has (127.0.0.1)`;
    case 'EACCES':
    case 'EPERM':
      return `MRV_E_PERMISSION: no permission for ${where || (e.syscall as string) || 'the operation'}${
        e.port !== undefined && Number(e.port) < 1024
          ? ' (ports below 1024 need root; use a higher port)'
          : ''
      }`;
    case 'ENOENT':
      return `MRV_E_FILE_NOT_FOUND: ${where} does not exist`;
    case 'EISDIR':
      return `MRV_E_CONFIG: ${where} is a directory; give a file`;
    default:
      return undefined;
  }
}

/** Runs `mrv` with the given arguments; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stdout.write(USAGE);
    return 2;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0] === undefined ? undefined : usageOf(rest[0]);
    process.stdout.write(topic ?? USAGE);
    return 0;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const spec = COMMANDS.find((c) => c.name === command);
  if (spec === undefined) {
    const near = suggest(
      command,
      COMMANDS.map((c) => c.name),
    );
    process.stderr.write(
      `mrv: unknown command "${command}"${near ? `; did you mean "mrv ${near}"?` : ''}\n` +
        `Commands: ${COMMANDS.map((c) => c.name).join(', ')} (mrv help COMMAND, mrv COMMAND --help)\n`,
    );
    return 2;
  }
  const wantsHelp =
    rest.includes('--help') || rest[0] === '-h' || (rest[0] === 'help' && spec.name !== 'sim');
  if (wantsHelp && !spec.ownHelp) {
    process.stdout.write(usageOf(spec.name) ?? USAGE);
    return 0;
  }
  try {
    return await spec.run(rest);
  } catch (err) {
    if (err instanceof MrvError) {
      process.stderr.write(`mrv ${command}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(
        `mrv ${command}: ${(err as Error).message}\n\n${usageOf(spec.name) ?? USAGE}` +
          `(mrv ${command} --help shows this again)\n`,
      );
      return 2;
    }
    const sys = systemErrorMessage(err);
    if (sys !== undefined) {
      process.stderr.write(`mrv ${command}: ${sys}\n`);
      return 1;
    }
    throw err;
  }
}
