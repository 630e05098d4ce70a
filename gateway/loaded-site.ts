/**
 * A validated site as the gateway runs it ({@link LoadedSite}) and what is derived from it without the
 * loader: the drivers' data folder and the retained catalogue. Kept apart from config.ts (the YAML
 * parser, templates, line and column of problems) so that a gateway that had its site loaded in a
 * child process (site-loader.ts) does not load the parser at all.
 */
import { dirname } from 'node:path';
import type { SiteConfig } from '../core/schema/site.ts';
import { type GatewayMeta, PointMeta } from '../core/schema/wire.ts';
import type { DriverKind } from '../drivers/types.ts';

/**
 * A validated site: the file, each device with its driver kind and parsed config, and a config hash.
 * Every file or folder named in the site (see {@link SITE_PATH_FIELDS}) is absolute, resolved against
 * the site file's folder.
 */
export interface LoadedSite {
  file: string;
  site: SiteConfig;
  devices: {
    id: string;
    // biome-ignore lint/suspicious/noExplicitAny: configs differ per driver kind, see drivers/registry.ts
    kind: DriverKind<any>;
    config: { id: string; points: PointMeta[] | Omit<PointMeta, 'device'>[] };
  }[];
  /** SHA-256 of the canonical JSON of the validated file. */
  configHash: string;
  /**
   * What the file may not mean, though it is valid: two Modbus devices that read the same slave (same
   * `host:port` or serial `path` and unit id, e.g. a forgotten `unitId` that defaulted to 1). `mrv
   * check-config` prints them, the gateway logs them at start.
   */
  warnings?: string[];
}

/**
 * The folder a site's drivers keep their state in (DriverContext `dataDir`): `gateway.dataDir`, else
 * the parent of `gateway.bufferDir`, else undefined (each driver's default). Absolute once loaded.
 */
export function siteDataDir(loaded: LoadedSite): string | undefined {
  const g = loaded.site.gateway;
  return g.dataDir ?? (g.bufferDir ? dirname(g.bufferDir) : undefined);
}

/** The retained catalogue a gateway publishes for its site (docs/architecture.md §4 `meta`). */
export function siteMeta(loaded: LoadedSite): GatewayMeta {
  const { site } = loaded;
  const points: PointMeta[] = [];
  // Every field the wire contract knows about a point is carried, whatever the driver adds besides
  // (addresses, types): taken from PointMeta's own shape so a new field cannot be forgotten here.
  const keys = Object.keys(PointMeta.shape).filter((k) => k !== 'device');
  for (const d of loaded.devices)
    for (const p of d.config.points) {
      const source = p as Record<string, unknown>;
      const picked = Object.fromEntries(
        keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]),
      );
      points.push(PointMeta.parse({ ...picked, device: d.id }));
    }
  return {
    v: 1,
    gatewayId: site.gateway.id,
    unit: site.unit,
    points,
    meters: site.meters,
    configHash: loaded.configHash,
  };
}
