/**
 * `mrv gateway -c SITE.yaml`: its own module, so that a gateway process loads only what a gateway runs
 * (the Gateway, its drivers, MQTT.js, pino), not the collector, stores, web server or simulators that
 * cli/commands.ts composes for the other commands (issue 19: the gateway's memory, bench/footprint.ts).
 */
import { unwatchFile, watchFile } from 'node:fs';
import { parseArgs } from 'node:util';
import { MrvError } from '../core/errors.ts';
import { Gateway } from '../gateway/gateway.ts';
import { watchHeap } from '../gateway/heap-watch.ts';
import { loadSiteConfigIsolated } from '../gateway/site-loader.ts';
import { packageVersion } from '../ops/package-root.ts';
import { refusePasswordInUrl } from './integrity-options.ts';
import { createLogger } from './log.ts';
import { intFlag, runUntilSignal } from './run.ts';

/** `--metrics-port`/`--metrics-host` of the parts without an HTTP server of their own. */
export const metricsFlags = {
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string', default: '127.0.0.1' },
} as const;

/** The problem lines of a site file's MRV_E_CONFIG message (after its first line), else the message. */
function problemLines(message: string): string[] {
  const lines = message.split('\n').map((l) => l.trim());
  return lines.length > 1 ? lines.slice(1).filter((l) => l !== '') : lines;
}

/** `mrv gateway -c SITE.yaml`. */
export async function gateway(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      mqtt: { type: 'string' },
      watch: { type: 'boolean', default: false },
      ...metricsFlags,
    },
  });
  if (!v.config) throw new MrvError('MRV_E_CONFIG', 'missing -c SITE.yaml (the site file; see examples/)');
  refusePasswordInUrl(
    'mqtt',
    v.mqtt,
    'put the account in the site file: gateway.mqtt.username and passwordFile (systemd: LoadCredential=)',
  );
  const log = createLogger('mrv-gateway');
  // A SIGHUP while starting (`systemctl reload` right after start) must not end the process (Node's
  // default for SIGHUP): it is remembered and the file reloaded once the gateway runs.
  let hupWhileStarting = false;
  const onEarlyHup = () => {
    hupWhileStarting = true;
  };
  process.on('SIGHUP', onEarlyHup);
  log.info({ file: v.config }, 'loading the site file');
  // In a short-lived child process: the YAML parser and its garbage for a large site leave with it
  // (gateway/site-loader.ts); this process never loads the parser.
  const site = await loadSiteConfigIsolated(v.config);
  const gw = new Gateway({ site, log, version: packageVersion(), ...(v.mqtt ? { mqttUrl: v.mqtt } : {}) });
  await gw.start();
  const stopHeapWatch = watchHeap(log);
  let ops: Awaited<ReturnType<typeof import('../ops/metrics-server.ts').startMetricsServer>> | undefined;
  if (v['metrics-port'] !== undefined) {
    // prom-client only when asked for: a gateway without metrics does not carry it.
    const { createRegistry, exposeDeviceStatus, exposeGatewayCounters } = await import('../ops/metrics.ts');
    const { startMetricsServer } = await import('../ops/metrics-server.ts');
    const registry = createRegistry();
    exposeGatewayCounters(registry, gw.counters);
    exposeDeviceStatus(registry, () => gw.deviceStatus());
    ops = await startMetricsServer({
      registry,
      host: v['metrics-host'],
      port: intFlag('metrics-port', v['metrics-port'], 0),
      health: () => ({ part: 'gateway', unitId: site.site.unit.id, gatewayId: site.site.gateway.id }),
    });
    process.stdout.write(`gateway metrics: ${ops.url}/metrics, health: ${ops.url}/healthz\n`);
  }
  // Hot reload (issue 15 item 3): SIGHUP, or with --watch a changed file. The new file is validated
  // whole first; a rejected one leaves the running configuration as it is and says why.
  const file = v.config;
  let reloading = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      try {
        const next = await loadSiteConfigIsolated(file);
        const r = await gw.reload(next);
        if (r.state === 'rejected')
          log.error(
            { file, why, reason: r.reason },
            'site file not reloaded; the running configuration stays',
          );
        else
          log.info(
            { file, why, ...r },
            r.state === 'unchanged' ? 'site file unchanged' : 'site file reloaded',
          );
      } catch (err) {
        const e = err as Error;
        if (err instanceof MrvError && err.code === 'MRV_E_CONFIG')
          // Every problem on its own line: file:line:col, the YAML path, what is expected.
          log.error(
            { file, why, code: err.code, err: e.message, problems: problemLines(e.message) },
            'site file not reloaded: it has problems; the running configuration stays',
          );
        else
          log.error(
            { file, why, code: (err as MrvError).code, err: e.message },
            'site file not reloaded: the site loader failed; the running configuration stays',
          );
      }
    });
  };
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  process.off('SIGHUP', onEarlyHup);
  if (hupWhileStarting) reload('SIGHUP while starting');
  if (v.watch)
    watchFile(file, { interval: 1000 }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs) reload('file changed');
    });
  return runUntilSignal(log, async () => {
    process.off('SIGHUP', onHup);
    stopHeapWatch();
    unwatchFile(file);
    await reloading;
    await ops?.stop();
    await gw.stop();
  });
}
