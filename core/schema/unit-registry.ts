/**
 * The server-side unit registry (issue 17 item 2; docs/architecture.md §3, §4, §8): the facts of each
 * key emitting unit (重点排放单位) that decide who may see it — its name, province, industry and the
 * gateways that report for it. Configured by the operator (`units.yaml`, seeded from the site files by
 * `mrv registry seed`), never taken from MQTT: a gateway's retained `meta` only informs (points, meters)
 * and a claim in it that differs from the registry is a finding (`MRV_F_META_MISMATCH`), never a change
 * of scope.
 *
 * Pure: the file is read and its YAML errors located by the caller (cli/unit-registry.ts); this module
 * holds the schema, the lookups and the comparison with a gateway's claims.
 *
 * ```yaml
 * version: 1
 * units:
 *   - id: 91150200MA0N00001X          # unified social credit code (统一社会信用代码) or another stable id
 *     name: 包头示例铝业有限公司          # registered name (Chinese)
 *     nameEn: Baotou Example Aluminium  # optional
 *     province: 内蒙古
 *     industry: aluminium               # power | steel | cement | aluminium
 *     gateways: [gw-potline]            # gateway ids that report for the unit
 * ```
 */
import { z } from 'zod';
import type { SiteConfig } from './site.ts';
import { Identifier, Industry, type UnitMeta } from './wire.ts';

/** One registered unit. */
export const UnitRegistration = z
  .object({
    id: Identifier.describe(
      'unified social credit code (统一社会信用代码) or another stable id, as the gateways use it',
    ),
    name: z.string().min(1).describe('registered name (Chinese), as shown to regulators'),
    nameEn: z.string().min(1).optional().describe('English name, shown in the English dashboard'),
    province: z
      .string()
      .min(1)
      .describe('province (省级行政区) whose regulators see the unit, spelled as their tokens scope it'),
    industry: Industry,
    gateways: z
      .array(Identifier)
      .min(1)
      .describe('ids of the gateways that report for the unit; a meta from another gateway is a finding'),
  })
  .strict();
export type UnitRegistration = z.infer<typeof UnitRegistration>;

/** The registry file (`units.yaml`), version 1. Unit ids are unique. */
export const UnitRegistryFile = z
  .object({
    version: z.literal(1).describe('registry file format version'),
    units: z.array(UnitRegistration).describe('every registered unit'),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Map<string, number>();
    f.units.forEach((u, i) => {
      const first = seen.get(u.id);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['units', i, 'id'],
          message: `unit ${u.id} is registered twice (first at units[${first}])`,
        });
      else seen.set(u.id, i);
    });
  });
export type UnitRegistryFile = z.infer<typeof UnitRegistryFile>;

/** One claim of a gateway's `meta` that differs from the registry ({@link UnitRegistry.compare}). */
export interface RegistryMismatch {
  /** What differs: a unit fact, the gateway not being registered for the unit, or the unit not being registered. */
  field: 'name' | 'province' | 'industry' | 'gateway' | 'unit';
  /** What the meta claims. */
  claimed: string;
  /** What the registry holds (`null` when the unit is not registered). */
  registered: string | null;
}

/** Lookups over a validated registry. Immutable; build a new one to change it. */
export class UnitRegistry {
  readonly #byId: Map<string, UnitRegistration>;

  /** @param units validated registrations (ids unique: {@link UnitRegistryFile} checks it) */
  constructor(units: readonly UnitRegistration[] = []) {
    this.#byId = new Map(units.map((u) => [u.id, u]));
  }

  /** Every registered unit, in file order. */
  get units(): UnitRegistration[] {
    return [...this.#byId.values()];
  }

  /** Number of registered units. */
  get size(): number {
    return this.#byId.size;
  }

  /** The registration of `unitId`, or undefined when it is not registered. */
  get(unitId: string): UnitRegistration | undefined {
    return this.#byId.get(unitId);
  }

  /** The registered province of `unitId` (the only source of province scope), or undefined. */
  province(unitId: string): string | undefined {
    return this.#byId.get(unitId)?.province;
  }

  /**
   * How a gateway's claim (`meta.unit` published by `gatewayId`) differs from the registry: empty when
   * it agrees. An unregistered unit gives one `unit` mismatch and nothing else.
   */
  compare(claim: UnitMeta, gatewayId: string): RegistryMismatch[] {
    const r = this.#byId.get(claim.id);
    if (!r) return [{ field: 'unit', claimed: claim.id, registered: null }];
    const out: RegistryMismatch[] = [];
    for (const field of ['name', 'province', 'industry'] as const)
      if (claim[field] !== r[field]) out.push({ field, claimed: claim[field], registered: r[field] });
    if (!r.gateways.includes(gatewayId))
      out.push({ field: 'gateway', claimed: gatewayId, registered: r.gateways.join(',') });
    return out;
  }
}

/**
 * A registry seeded from site files (`mrv registry seed`, `mrv demo`): one unit per `unit.id` with the
 * facts of its first site file and every gateway of its site files, in order. What the sites disagree
 * on is returned in `conflicts` (file order), for the operator to settle before trusting the file.
 */
export function seedRegistry(sites: readonly { file: string; site: SiteConfig }[]): {
  registry: UnitRegistryFile;
  conflicts: string[];
} {
  const units = new Map<string, UnitRegistration & { file: string }>();
  const conflicts: string[] = [];
  for (const { file, site } of sites) {
    const u = site.unit;
    const have = units.get(u.id);
    if (!have) {
      units.set(u.id, {
        id: u.id,
        name: u.name,
        province: u.province,
        industry: u.industry,
        gateways: [site.gateway.id],
        file,
      });
      continue;
    }
    for (const field of ['name', 'province', 'industry'] as const)
      if (have[field] !== u[field])
        conflicts.push(
          `${file}: unit ${u.id} ${field} "${u[field]}" differs from "${have[field]}" in ${have.file} (the first is kept)`,
        );
    if (!have.gateways.includes(site.gateway.id)) have.gateways.push(site.gateway.id);
  }
  return {
    registry: { version: 1, units: [...units.values()].map(({ file: _f, ...u }) => u) },
    conflicts,
  };
}
