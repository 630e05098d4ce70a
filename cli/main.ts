/**
 * `mrv` — one command line for every part (DESIGN.md §2). Each sub-command is a thin composition
 * of the parts; the parts themselves know nothing of the command line.
 */
import { readFileSync } from 'node:fs';
import { MrvError } from '../core/errors.ts';

const USAGE = `mrv — carbon-mrv command line

  mrv demo [--port 8080] [--speed 1] [--data-dir .data/demo] [--seed 42]
      simulator + embedded broker + gateway + collector + embedded store + web server
  mrv gateway -c SITE.yaml [--mqtt URL]
      poll the site's devices and publish batches to the broker
  mrv collector --mqtt URL [--store sqlite|influx] [--sqlite FILE] [--influx URL] [--db mrv]
      subscribe, validate and write readings to the store
  mrv server [--port 8080] [--host 127.0.0.1] [--mqtt URL] [--store ...]
      HTTP API and dashboard; with --mqtt it also runs a collector feeding the live view
  mrv broker [--port 1883]
      an embedded MQTT broker (aedes)
  mrv sim aluminium [--seed 42] [--speed 1] [--base-port 15020]
      Modbus TCP aluminium smelter simulator (ports base..base+3)

  Environment: MRV_LOG_LEVEL=debug|info|warn (logs are JSON lines on stderr)
`;

/** The package version, for status messages and /healthz. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Runs `mrv` with the given arguments; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
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
      case 'sim':
        return await (await import('./commands.ts')).sim(rest);
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
