/**
 * `mrv server --federate PROVINCE=STORE` (repeatable, docs/scale-out.md "Provinces and the national
 * view"): the province stores a national server reads through one read-only facade
 * (collector/federated-store.ts) instead of its own `--store`. STORE is the same choice `--store`
 * makes, in one word:
 *
 * - `sqlite:/var/lib/mrv/44.sqlite` — a province's SQLite file (opened read-only; it must exist);
 * - `influx:http://10.0.4.4:8086` or `influx:http://10.0.4.4:8086?db=mrv44` — a province's InfluxDB
 *   (database `mrv` unless `db=` names another; opened read-only: no database is created). As with
 *   `--influx`, `user:password@` in the URL gives basic auth; it is never logged.
 *
 * PROVINCE is spelled as the unit registry spells its units' province (`44`, `广东`).
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { FederatedStore, type ProvinceStore } from '../collector/federated-store.ts';
import { InfluxStore } from '../collector/influx-store.ts';
import { SqliteStore } from '../collector/sqlite-store.ts';
import { MrvError } from '../core/errors.ts';
import type { UnitRegistry } from '../core/schema/unit-registry.ts';

/** The `--federate` flag of `mrv server` (parseArgs option). */
export const federateFlag = {
  federate: { type: 'string', multiple: true, default: [] as string[] },
} as const;

/** Timeout of one request to a province's InfluxDB, ms: a hung province must not hold the overview for long. */
export const FEDERATED_INFLUX_TIMEOUT_MS = 10_000;

/** One parsed `--federate` value. */
export interface FederateSpec {
  province: string;
  kind: 'sqlite' | 'influx';
  /** File path (sqlite) or base URL with credentials, without `db=` (influx). */
  location: string;
  /** InfluxDB database (influx only). */
  database?: string;
  /** For people and logs: no credentials. */
  label: string;
}

const USAGE =
  'expected PROVINCE=sqlite:FILE or PROVINCE=influx:URL[?db=NAME], e.g. --federate 44=sqlite:/var/lib/mrv/44.sqlite';

/**
 * Parses one `--federate` value.
 * @throws MrvError `MRV_E_CONFIG` naming the value and the expected form
 */
export function parseFederateSpec(value: string): FederateSpec {
  const eq = value.indexOf('=');
  const province = eq > 0 ? value.slice(0, eq).trim() : '';
  const rest = eq > 0 ? value.slice(eq + 1).trim() : '';
  const colon = rest.indexOf(':');
  const kind = colon > 0 ? rest.slice(0, colon) : '';
  const location = colon > 0 ? rest.slice(colon + 1).trim() : '';
  if (province === '' || location === '' || (kind !== 'sqlite' && kind !== 'influx'))
    throw new MrvError('MRV_E_CONFIG', `--federate "${value}": ${USAGE}`);
  if (kind === 'sqlite') {
    const file = resolve(location);
    return { province, kind, location: file, label: `sqlite:${file}` };
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new MrvError('MRV_E_CONFIG', `--federate "${province}=influx:…": not a URL; ${USAGE}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new MrvError('MRV_E_CONFIG', `--federate ${province}: InfluxDB URL must be http or https`);
  const database = url.searchParams.get('db') ?? 'mrv';
  url.search = '';
  const safe = new URL(url.href);
  safe.username = '';
  safe.password = '';
  return {
    province,
    kind,
    location: url.href.replace(/\/$/, ''),
    database,
    label: `influx:${safe.href.replace(/\/$/, '')} db ${database}`,
  };
}

/**
 * The federation of `--federate` values over `registry`, province stores opened read-only. Not started.
 * @throws MrvError `MRV_E_CONFIG` for a bad value, a province given twice, or no registry
 */
export function makeFederation(
  values: readonly string[],
  registry: UnitRegistry | undefined,
  log?: Logger,
): FederatedStore {
  if (!registry)
    throw new MrvError(
      'MRV_E_CONFIG',
      '--federate needs the national unit registry (--units-file units.yaml): it places every unit in its province, and so routes its queries',
    );
  const provinces: ProvinceStore[] = values.map((v) => {
    const s = parseFederateSpec(v);
    const store =
      s.kind === 'sqlite'
        ? new SqliteStore({ path: s.location, readOnly: true, ...(log ? { log } : {}) })
        : new InfluxStore({
            url: s.location,
            database: s.database ?? 'mrv',
            readOnly: true,
            requestTimeoutMs: FEDERATED_INFLUX_TIMEOUT_MS,
            // A province that does not answer is shown unavailable at once; the next request tries again.
            queryRetries: 0,
            ...(log ? { log } : {}),
          });
    return { province: s.province, store, label: s.label };
  });
  const missing = new Map<string, number>();
  for (const r of registry.units)
    if (!provinces.some((p) => p.province === r.province))
      missing.set(r.province, (missing.get(r.province) ?? 0) + 1);
  for (const [province, units] of missing)
    log?.warn(
      { province, units },
      'registered units of a province that is not federated (--federate): they show as unavailable',
    );
  return new FederatedStore({ provinces, registry, ...(log ? { log } : {}) });
}
