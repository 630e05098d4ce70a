/**
 * `mrv check-config SITE.yaml`: what a plant engineer runs after editing a site file on the gateway
 * box. Validates the file (every problem with file:line:col and YAML path), reads every device once
 * through its driver from the registry (Modbus: `pollOnce`; other drivers: started until their first
 * readings arrive) and prints one table row per point with its decoded value and quality, then one
 * line per ticket memory (Modbus `eventLogs`: latest number, tickets the ring holds). Before
 * reading, it warns about parameter ids the evidence would not use (unknown, another industry's,
 * a qualified parameter without its kind) and parameters an emission needs that no point feeds
 * (core/domain/parameter-check.ts), and about rules of the unit's rule pack the file leaves without
 * their points (core/domain/rule-coverage.ts); warnings do not change the exit code.
 *
 * Exit codes: 0 all devices answered; 1 the file is invalid (nothing is read); 3 at least one device
 * gave no good reading at all (unreachable, timed out, wrong unit id or addresses).
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { factorWarnings } from '../core/domain/factor-check.ts';
import { checkParameterIds } from '../core/domain/parameter-check.ts';
import { checkRuleCoverage } from '../core/domain/rule-coverage.ts';
import { MrvError } from '../core/errors.ts';
import type { PointMeta, Reading } from '../core/schema/wire.ts';
import { systemClock } from '../core/time.ts';
import type { EventLogSnapshot } from '../drivers/modbus/driver.ts';
import type { Driver } from '../drivers/types.ts';
import { catalogueFromSites, checkRuleOverrides, loadFactorPack, loadRulePack } from '../evidence/service.ts';
import { type LoadedSite, loadSiteConfig, siteDataDir } from '../gateway/config.ts';

/** One device's outcome. */
export interface DeviceCheck {
  device: string;
  driver: string;
  readings: Reading[];
  /** True when no point of the device read good or uncertain. */
  unreachable: boolean;
  /** Set when the driver itself failed (threw) or gave nothing within the timeout. */
  error?: string;
  /** The device's ticket memories (Modbus `eventLogs`), read once. */
  eventLogs?: EventLogSnapshot[];
}

/** A driver with ticket memories to show (the Modbus drivers). */
interface ReadsEventLogs {
  readEventLogs(): Promise<EventLogSnapshot[]>;
}

function readsEventLogs(d: Driver): d is Driver & ReadsEventLogs {
  return typeof (d as Partial<ReadsEventLogs>).readEventLogs === 'function';
}

/** A driver that can read all its points once without being started (the Modbus drivers). */
interface PollOnce {
  pollOnce(): Promise<Reading[]>;
}

function hasPollOnce(d: Driver): d is Driver & PollOnce {
  return typeof (d as Partial<PollOnce>).pollOnce === 'function';
}

/** Reads one device once: `pollOnce` where the driver has it, else the first readings after `start`. */
async function readOnce(driver: Driver, points: number, timeoutMs: number): Promise<Reading[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no readings within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    if (hasPollOnce(driver)) return await Promise.race([driver.pollOnce(), timeout]);
    const got = new Map<string, Reading>();
    const all = new Promise<void>((resolve) => {
      void driver.start((readings) => {
        for (const r of readings) got.set(r.point, r);
        if (got.size >= points) resolve();
      });
    });
    await Promise.race([all, timeout]).catch((err) => {
      if (got.size === 0) throw err;
    });
    return [...got.values()];
  } finally {
    clearTimeout(timer);
    await driver.stop().catch(() => undefined);
  }
}

/**
 * Default time a device gets to give its readings, ms, by driver: a Modbus device answers within a
 * second or not at all; an OPC UA device needs node-opcua loaded (2–6 s on a small machine, once),
 * a secure channel, a session and its first subscription notification.
 */
export const DEFAULT_TIMEOUT_MS: Readonly<Record<string, number>> = { opcua: 20_000 };
const MODBUS_TIMEOUT_MS = 3000;

/**
 * Reads every device of a validated site once, one after the other (devices may share a serial line).
 * Drivers get the site's data folder ({@link siteDataDir}), as under the gateway, so an OPC UA device
 * uses the same PKI (trusted certificates) as the gateway that will run the file.
 * @param timeoutMs per device; absent: {@link DEFAULT_TIMEOUT_MS} of its driver, else 3000
 */
export async function checkDevices(site: LoadedSite, timeoutMs?: number): Promise<DeviceCheck[]> {
  const log = pino({ level: process.env.MRV_LOG_LEVEL ?? 'error' }, pino.destination(2));
  const dataDir = siteDataDir(site);
  const out: DeviceCheck[] = [];
  for (const d of site.devices) {
    const check: DeviceCheck = { device: d.id, driver: d.kind.name, readings: [], unreachable: true };
    try {
      const driver = d.kind.create(d.config, { clock: systemClock, log, ...(dataDir ? { dataDir } : {}) });
      const ms = timeoutMs ?? DEFAULT_TIMEOUT_MS[d.kind.name] ?? MODBUS_TIMEOUT_MS;
      check.readings = await readOnce(driver, d.config.points.length, ms);
      check.unreachable = !check.readings.some((r) => r.quality !== 'bad');
      const logs = (d.config as { eventLogs?: unknown[] }).eventLogs ?? [];
      if (readsEventLogs(driver) && logs.length > 0 && !check.unreachable)
        try {
          check.eventLogs = await driver.readEventLogs();
        } finally {
          await driver.stop().catch(() => undefined);
        }
    } catch (err) {
      check.error = (err as Error).message;
    }
    out.push(check);
  }
  return out;
}

/**
 * Warnings about qualified parameters the factor pack cannot compute (issue 18): kinds without a factor,
 * units that cannot meet their factor (core/domain/factor-check.ts). One line per warning,
 * `warning CODE: point POINT: text`; "" when none.
 * @param pack default: the shipped factor pack
 */
export function factorWarningsText(site: LoadedSite, pack = loadFactorPack()): string {
  const points = site.devices.flatMap((d) => d.config.points as PointMeta[]);
  return factorWarnings(site.site.unit.industry, points, pack)
    .map((w) => `warning ${w.code}: point ${w.point}: ${w.message}\n`)
    .join('');
}

/** The table printed by `mrv check-config`: device, point, value, unit, quality, ts, reason. */
export function formatTable(site: LoadedSite, checks: DeviceCheck[]): string {
  const rows: string[][] = [['device', 'point', 'value', 'unit', 'quality', 'time', 'reason']];
  for (const c of checks) {
    const d = site.devices.find((x) => x.id === c.device);
    const points = (d?.config.points ?? []) as Array<Pick<PointMeta, 'id' | 'unit'>>;
    if (c.error !== undefined && c.readings.length === 0) {
      rows.push([c.device, '*', '', '', 'bad', '', c.error]);
      continue;
    }
    for (const p of points) {
      const r = c.readings.find((x) => x.point === p.id);
      rows.push([
        c.device,
        p.id,
        r?.value ?? '',
        p.unit,
        r?.quality ?? 'missing',
        r?.ts ?? '',
        (r?.reason ?? '').slice(0, 80),
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * One line about a ticket memory: `event log ladle-scale/ladle-tickets: latest ticket 260123, the ring
 * holds 64 (260060–260123, newest weighed 2026-…)`.
 */
export function formatEventLog(device: string, l: EventLogSnapshot): string {
  const head = `event log ${device}/${l.id}:`;
  if (l.index === undefined) return `${head} not read: ${l.error ?? 'no answer'}`;
  const held =
    l.held === 0
      ? 'the ring holds no ticket'
      : `the ring holds ${l.held} (${l.lowest}–${l.highest}${l.newestTime ? `, newest weighed ${l.newestTime}` : ''})`;
  return `${head} latest ticket ${l.index}, ${held}${l.error ? `; ring not read whole: ${l.error}` : ''}`;
}

/**
 * `mrv check-config SITE.yaml [--timeout-ms N]`: N applies to every device; without it Modbus devices
 * get 3 s and OPC UA devices 20 s ({@link DEFAULT_TIMEOUT_MS}). Resolves with the exit code (see the
 * file comment).
 */
export async function checkConfig(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'timeout-ms': { type: 'string' }, config: { type: 'string', short: 'c' } },
  });
  const file = v.config ?? positionals[0];
  if (file === undefined) throw new MrvError('MRV_E_CONFIG', 'usage: mrv check-config SITE.yaml');
  const timeoutMs = v['timeout-ms'] === undefined ? undefined : Number(v['timeout-ms']);
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 1))
    throw new MrvError('MRV_E_CONFIG', `--timeout-ms: expected a positive integer, got "${v['timeout-ms']}"`);
  const site = loadSiteConfig(file);
  // Rule settings name rules of the unit's industry pack (a typo would leave the pack's limit in force).
  const catalogue = catalogueFromSites(site.site.unit.id, [site.site]);
  const rulePack = loadRulePack(site.site.unit.industry);
  if (catalogue) checkRuleOverrides(catalogue, rulePack);
  const points = site.devices.reduce((n, d) => n + d.config.points.length, 0);
  process.stdout.write(
    `${file}: valid (unit ${site.site.unit.id} ${site.site.unit.name}, gateway ${site.site.gateway.id}, ` +
      `${site.devices.length} devices, ${points} points, ${site.site.meters.length} meters)\n\n`,
  );
  for (const w of site.warnings ?? []) process.stdout.write(`warning same-slave: ${w}\n`);
  if ((site.warnings ?? []).length > 0) process.stdout.write('\n');
  const warnings = checkParameterIds(
    site.site.unit.industry,
    site.devices.flatMap((d) => d.config.points as { id: string; parameter?: string }[]),
  );
  for (const w of warnings) process.stdout.write(`warning ${w.code}: ${w.message}\n`);
  const coverage = checkRuleCoverage(
    rulePack,
    site.devices.flatMap((d) => d.config.points as { id: string; parameter?: string }[]),
  );
  for (const w of coverage) process.stdout.write(`warning ${w.code}: ${w.message}\n`);
  const packWarnings = factorWarningsText(site);
  process.stdout.write(packWarnings);
  if (warnings.length > 0 || coverage.length > 0 || packWarnings) process.stdout.write('\n');
  const checks = await checkDevices(site, timeoutMs);
  process.stdout.write(`${formatTable(site, checks)}\n\n`);
  const logLines = checks.flatMap((c) => (c.eventLogs ?? []).map((l) => formatEventLog(c.device, l)));
  if (logLines.length > 0) process.stdout.write(`${logLines.join('\n')}\n\n`);
  const down = checks.filter((c) => c.unreachable);
  for (const c of down)
    process.stdout.write(
      `device ${c.device} (${c.driver}): no good reading${c.error ? `: ${c.error}` : ` (${c.readings[0]?.reason ?? 'no reading'})`}\n`,
    );
  process.stdout.write(
    down.length === 0
      ? `all ${checks.length} devices answered\n`
      : `${down.length} of ${checks.length} devices gave no good reading\n`,
  );
  return down.length === 0 ? 0 : 3;
}
