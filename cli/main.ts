/**
 * `mrv` — one command line for every part (DESIGN.md §2). Each sub-command is a thin composition
 * of the parts; the parts themselves know nothing of the command line.
 */
import { MrvError } from '../core/errors.ts';
import { packageVersion } from '../ops/package-root.ts';

const USAGE = `mrv — carbon-mrv command line

  mrv demo [--port 8080] [--speed 1] [--data-dir .data/demo] [--seed 42] [--units aluminium,cement,steel[,power]]
      the units' simulators + one gateway per site file + embedded broker, collector, store, web server
  mrv gateway -c SITE.yaml [--mqtt URL] [--metrics-port N]
      poll the site's devices and publish batches to the broker
  mrv collector --mqtt URL [--store sqlite|influx] [--sqlite FILE] [--influx URL] [--db mrv] [--metrics-port N]
                (--keys REGISTRY | --insecure-unsigned) [--client-id mrv-collector]
                [--username U --password-env VAR|--password-file F] (never a password in the URL)
                [--ca FILE] [--cert FILE --key FILE] [--keepalive S]
                [--share-group NAME [--gap-grace S] [--audit-interval S] [--leave]] [--live-topic]
      subscribe (persistent session), verify signatures and hash chains, write readings, findings and
      the batch archive to the store, acknowledge after writing; with --share-group several collectors
      (each its own --client-id) share the data as $share/NAME/... and audit the archived chains;
      --leave removes the member --client-id from the group for good (stores what it holds, exits);
      --live-topic announces every stored batch for a server started with --live-mqtt
  mrv server [--port 8080] [--host 127.0.0.1] [--mqtt URL (--keys REGISTRY | --insecure-unsigned) | --live-mqtt URL]
             [--username U --password-file F --ca FILE] [--store ...] [--data-dir .data] [--site SITE.yaml ...]
             [--trust-proxy ADDR,...|true]
      HTTP API and dashboard; with --mqtt it also runs a collector feeding the live view; with
      --live-mqtt the live view follows separate collectors' announcements (mrv collector --live-topic);
      --trust-proxy names the TLS proxy in front, whose X-Forwarded-For/-Proto are then believed
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
  mrv token create --role admin|regulator|enterprise [--scope province:NAME|unit:ID ...] [--data-dir .data]
  mrv token list|revoke ID [--data-dir .data]
      API tokens of the server in that data dir (mrv token help)

  mrv evidence --unit ID --month yyyy-mm [--format json|csv|html] [--out FILE] [--site SITE.yaml]
               [--readings-out FILE] [--key FILE] [--store sqlite|influx] [--sqlite FILE] [--influx URL]
               [--clock-tolerance-ms N]
      build and sign the monthly evidence package (月度存证) of a unit from the store
      (--clock-tolerance-ms: how late readings may be stamped; for mrv demo --speed N data, N × 250)
  mrv verify FILE (--trusted-keys FILE|DIR | --public-key FILE) [--batches EXPORT --keys REGISTRY | --readings FILE]
      check an evidence package's signature and, given its raw signed batches (mrv export-batches)
      or its readings, recompute its values; with batches also their signatures, chain and digest
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

/** The package version, for status messages and /healthz. */
export function version(): string {
  return packageVersion();
}

/** Runs `mrv` with the given arguments; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'evidence':
        return await (await import('./evidence.ts')).evidence(rest);
      case 'verify':
        return await (await import('./evidence.ts')).verify(rest);
      case 'export-batches':
        return await (await import('./verify-batches.ts')).exportCommand(rest);
      case 'keygen':
        return await (await import('./keygen.ts')).keygen(rest);
      case 'keys':
        return await (await import('./keygen.ts')).keys(rest);
      case 'demo':
        return await (await import('./commands.ts')).demo(rest);
      case 'gateway':
        return await (await import('./commands.ts')).gateway(rest);
      case 'collector':
        return await (await import('./commands.ts')).collector(rest);
      case 'server':
        return await (await import('./commands.ts')).server(rest);
      case 'broker':
        return await (await import('./commands.ts')).broker(rest);
      case 'read':
        return await (await import('./read.ts')).read(rest);
      case 'browse':
        return await (await import('./opcua.ts')).browse(rest);
      case 'pki':
        return await (await import('./pki.ts')).pki(rest);
      case 'sim':
        if (rest[0] === 'hj212-platform')
          return await (await import('./hj212.ts')).simPlatform(rest.slice(1));
        return await (await import('./commands.ts')).sim(rest);
      case 'uplink':
        return await (await import('./hj212.ts')).uplink(rest);
      case 'check-config':
        return await (await import('./check-config.ts')).checkConfig(rest);
      case 'token':
        return await (await import('./token.ts')).token(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      case '--version':
        process.stdout.write(`${version()}\n`);
        return 0;
      default:
        process.stderr.write(`mrv: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof MrvError) {
      process.stderr.write(`mrv ${command}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`mrv ${command}: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}
