/**
 * `mrv uplink hj212 -c UPLINK.yaml` (send a unit's data to an HJ 212 platform) and
 * `mrv sim hj212-platform` (a receiving platform for tests and demos). See uplink/hj212/.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { MrvError } from '../core/errors.ts';
import type { PointMeta } from '../core/schema/wire.ts';
import { loadSiteConfig } from '../gateway/config.ts';
import { loadUplinkConfig, resolvePasswords } from '../uplink/hj212/config.ts';
import { startHj212Platform } from '../uplink/hj212/platform-sim.ts';
import { Hj212Uplink, type MeterCatalogue } from '../uplink/hj212/uplink.ts';
import { createLogger } from './log.ts';
import { makeStore, storeFlags } from './store-options.ts';

/** Resolves on SIGINT/SIGTERM, then runs `stop` (bounded by 30 s: the message in flight may wait for its ack). */
async function untilSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  const signal = await new Promise<string>((res) => {
    process.once('SIGINT', () => res('SIGINT'));
    process.once('SIGTERM', () => res('SIGTERM'));
  });
  log.info({ signal }, 'stopping');
  const force = setTimeout(() => {
    log.error('stop took longer than 30 s; exiting');
    process.exit(1);
  }, 30_000);
  force.unref();
  await stop();
  clearTimeout(force);
  return 0;
}

function port(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new MrvError('MRV_E_CONFIG', `--port: expected 0..65535, got "${v}"`);
  return n;
}

/** Meters and point→meter links of a site file, for the data flags' calibration rule. */
export function catalogueOf(siteFile: string): MeterCatalogue {
  const site = loadSiteConfig(siteFile);
  const pointMeter = new Map<string, string>();
  for (const d of site.devices)
    for (const p of d.config.points as PointMeta[]) if (p.meter !== undefined) pointMeter.set(p.id, p.meter);
  return { meters: site.site.meters, pointMeter };
}

/** `mrv uplink hj212 -c UPLINK.yaml [--store sqlite|influx] [--sqlite FILE] [--influx URL] [--db mrv]`. */
export async function uplink(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind !== 'hj212')
    throw new MrvError('MRV_E_CONFIG', `unknown uplink "${kind ?? ''}"; available: hj212`);
  const { values: v } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      ...storeFlags,
    },
  });
  if (!v.config)
    throw new MrvError('MRV_E_CONFIG', 'missing -c UPLINK.yaml (see deploy/hj212/uplink.example.yaml)');
  const log = createLogger('mrv-uplink');
  const loaded = loadUplinkConfig(v.config);
  const passwords = resolvePasswords(loaded);
  const catalogue = loaded.siteFile !== undefined ? catalogueOf(loaded.siteFile) : undefined;
  const store = makeStore(v, log);
  await store.start();
  const up = new Hj212Uplink({ loaded, passwords, store, log, ...(catalogue ? { catalogue } : {}) });
  await up.start();
  const { platform } = loaded.config;
  process.stdout.write(
    `HJ 212 uplink: unit ${loaded.config.unit} → ${platform.host}:${platform.port} (${loaded.config.protocol}), ` +
      `devices ${loaded.config.devices.map((d) => d.mn).join(', ')}, cursor ${loaded.cursorFile}\n`,
  );
  return untilSignal(log, async () => {
    await up.stop();
    await store.stop();
  });
}

/** `mrv sim hj212-platform [--port 9212] [--host 127.0.0.1] [--out FILE]`. */
export async function simPlatform(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '9212' },
      host: { type: 'string', default: '127.0.0.1' },
      out: { type: 'string' },
    },
  });
  const log = createLogger('mrv-sim-hj212');
  if (v.out) mkdirSync(dirname(resolve(v.out)), { recursive: true });
  const p = await startHj212Platform({
    host: v.host,
    port: port(v.port, 9212),
    ...(v.out ? { out: resolve(v.out) } : {}),
  });
  process.stdout.write(
    `HJ 212 platform simulator on ${p.host}:${p.port}${v.out ? `, writing ${resolve(v.out)}` : ''}\n`,
  );
  return untilSignal(log, () => p.stop());
}
