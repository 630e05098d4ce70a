/**
 * Factor packs: versioned, overridable sets of emission factors and GWP values (docs/architecture.md
 * §7, docs/domain.md preamble: every [unconfirmed] number lives here with its source, never in code).
 * The YAML files live in `core/domain/factors/`; I/O code reads them and calls {@link parseFactorPack}.
 * A pack is identified by the SHA-256 of its canonical JSON (computed outside core,
 * evidence/factor-packs.ts `factorPackDigest`), which every evidence package records.
 */
import { z } from 'zod';
import { DecimalString } from '../schema/wire.ts';

/** One factor: value, unit, where it comes from and whether it was checked against the official text. */
export const Factor = z
  .object({
    value: DecimalString,
    unit: z.string().min(1),
    source: z
      .string()
      .min(1)
      .describe('document and standing, e.g. "[unconfirmed] implementations, docs/domain.md §2.2"'),
    confirmed: z.boolean().describe('true only when checked against the official text named in `clause`'),
    clause: z
      .string()
      .min(1)
      .optional()
      .describe('guideline id and clause the value was checked against, e.g. "CETS-AG-02.01-V01-2024 §5.2"'),
    description: z.string().optional(),
  })
  .strict();
export type Factor = z.infer<typeof Factor>;

/**
 * A factor pack file schema. `requireClause`: a factor `confirmed: true` must name its `clause`
 * (issue 18 item 6: nothing is confirmed without the clause it was checked against). Packs shipped
 * before that rule (`factors/history/`) are read without it so old packages stay verifiable.
 */
function packSchema(requireClause: boolean) {
  return z
    .object({
      kind: z.literal('factor-pack'),
      version: z.literal(1).describe('file format version'),
      id: z.string().min(1).describe('pack id, e.g. cn-ets-defaults'),
      packVersion: z.string().min(1).describe('version of the values, e.g. 2026.12-1'),
      description: z.string().optional(),
      gwpSet: z.string().min(1).describe('the GWP set in use, a key of gwpSets (e.g. AR5)'),
      gwpSets: z
        .record(z.string(), z.record(z.string(), Factor))
        .describe('GWP (t CO2e/t) per gas per IPCC report'),
      factors: z.record(z.string(), Factor),
    })
    .strict()
    .superRefine((p, ctx) => {
      if (!(p.gwpSet in p.gwpSets))
        ctx.addIssue({
          code: 'custom',
          path: ['gwpSet'],
          message: `gwpSet "${p.gwpSet}" is not a key of gwpSets`,
        });
      if (!requireClause) return;
      const all: [string[], Factor][] = [
        ...Object.entries(p.factors).map(([id, f]): [string[], Factor] => [['factors', id], f]),
        ...Object.entries(p.gwpSets).flatMap(([set, gases]) =>
          Object.entries(gases).map(([gas, f]): [string[], Factor] => [['gwpSets', set, gas], f]),
        ),
      ];
      for (const [path, f] of all)
        if (f.confirmed && f.clause === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'clause'],
            message: 'confirmed: true needs the guideline clause it was checked against (clause: ...)',
          });
    });
}

/** A factor pack file. */
export const FactorPack = packSchema(true);
export type FactorPack = z.infer<typeof FactorPack>;

/**
 * Validates a parsed YAML factor pack.
 * @param o.legacy read a pack shipped before the clause rule (`factors/history/`): `confirmed: true`
 *   without `clause` is accepted
 * @throws Error listing every problem with its path (zod's prettified issues)
 */
export function parseFactorPack(
  doc: unknown,
  name = 'factor pack',
  o: { legacy?: boolean } = {},
): FactorPack {
  const r = (o.legacy ? packSchema(false) : FactorPack).safeParse(doc);
  if (!r.success) throw new Error(`${name}: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** A factor as cited by an emission figure: its id plus the factor itself. */
export interface CitedFactor extends Factor {
  id: string;
}

/**
 * Looks a factor up and returns it with its id.
 * @throws Error naming the pack and id when absent
 */
export function factor(pack: FactorPack, id: string): CitedFactor {
  const f = pack.factors[id];
  if (!f) throw new Error(`factor pack ${pack.id}@${pack.packVersion} has no factor "${id}"`);
  return { id, ...f };
}

/**
 * The first of `ids` the pack has, cited (e.g. an industry's own `power.fuel.coal.carbon_per_gj`
 * before the generic `fuel.coal.carbon_per_gj`); undefined when it has none of them.
 */
export function firstFactor(pack: FactorPack, ids: readonly string[]): CitedFactor | undefined {
  const id = ids.find((i) => i in pack.factors);
  return id === undefined ? undefined : factor(pack, id);
}

/** Whether the pack has a factor. */
export function hasFactor(pack: FactorPack, id: string): boolean {
  return id in pack.factors;
}

/** The GWP of a gas in the pack's selected set, cited as `gwp.<set>.<gas>`. @throws Error when absent */
export function gwp(pack: FactorPack, gas: string): CitedFactor {
  const f = pack.gwpSets[pack.gwpSet]?.[gas];
  if (!f) throw new Error(`factor pack ${pack.id}: GWP set ${pack.gwpSet} has no ${gas}`);
  return { id: `gwp.${pack.gwpSet}.${gas}`, ...f };
}
