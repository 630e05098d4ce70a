/**
 * The evidence computations the server hands to its worker threads (evidence/evidence-pool.ts), as
 * plain data in and out, and the one function that runs them ({@link runEvidenceJob}): the worker
 * thread (evidence/evidence-worker.ts) and the in-process path call the same code with their own store
 * connection, so a package built in a worker is the package built on the event loop, byte for byte.
 *
 * Everything a job needs besides the store's readings travels in the job: the unit's site files, its
 * registration in the unit registry and its meters from the meter ledger (the server's state database
 * stays with the server), the tunables, the generator, the build's `now`. The signing key is read from
 * its file by whoever builds; the day aggregates are opened by whoever builds.
 */
import type { TimeSeriesStore } from '../collector/store.ts';
import {
  computeEvidence,
  type EvidenceConfig,
  type EvidencePackage,
  SampleRuleRunner,
} from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import type { Finding } from '../core/schema/finding.ts';
import type { SiteConfig } from '../core/schema/site.ts';
import { type UnitRegistration, UnitRegistry } from '../core/schema/unit-registry.ts';
import type { MeterMeta, UnitMeta } from '../core/schema/wire.ts';
import type { DayAggregates } from './day-aggregates.ts';
import type { DayCounts } from './day-counts.ts';
import {
  buildEvidence,
  checkRuleOverrides,
  completenessToDate,
  type EvidenceKey,
  loadFactorPack,
  loadRulePack,
  storeSource,
  unitCatalogue,
} from './service.ts';

/** What a build or a findings window knows of a unit besides its readings. */
export interface UnitInputs {
  unitId: string;
  /** The unit's site files (others' are ignored anyway). */
  sites: SiteConfig[];
  /** The unit's registration in the unit registry, when the server has a registry that holds it. */
  registration?: UnitRegistration;
  /** The unit's meters and certificates from the meter ledger, when the server has one. */
  ledgerMeters?: MeterMeta[];
  /** Evidence tunables (`DomainOptions.evidenceConfig`). */
  config?: Partial<EvidenceConfig>;
  /** Version string written into packages. */
  generator: string;
  /** The build's clock reading, ms epoch. */
  now: number;
}

/** A monthly evidence package (月度存证) to build and sign. */
export interface EvidenceBuildJob extends UnitInputs {
  kind: 'evidence';
  /** UTC+8 month `yyyy-mm`. */
  month: string;
  /** The Ed25519 signing key file (PKCS#8 PEM; made by the server before the first job). */
  keyFile: string;
  /** Resume from and keep day aggregates (when the builder has a day aggregates file). */
  dayAggregates: boolean;
}

/** Validation findings computed over a window (`GET /api/v1/units/{id}/findings`). */
export interface FindingsWindowJob extends UnitInputs {
  kind: 'findings';
  /** Inclusive start, exclusive end, ms epoch. */
  from: number;
  to: number;
}

/** Month-to-date completeness from hourly counts (evidence/service.ts `completenessToDate`). */
export interface CompletenessJob {
  kind: 'completeness';
  unitId: string;
  month: string;
  now: number;
  sites: SiteConfig[];
  /** The unit's registry facts, when the caller has them (see completenessToDate). */
  unit?: UnitMeta;
}

/** A job of the evidence workers. */
export type EvidenceJob = EvidenceBuildJob | FindingsWindowJob | CompletenessJob;

/** A built package with how much of it came from kept day aggregates. */
export interface EvidenceBuildResult {
  pkg: EvidencePackage;
  stats: { resumed: number; kept: number; chunks: number } | null;
}

/** Month-to-date completeness as {@link completenessToDate} gives it. */
export type CompletenessResult = Awaited<ReturnType<typeof completenessToDate>>;

/** The result of each kind of job. */
export interface EvidenceJobResults {
  evidence: EvidenceBuildResult;
  findings: Finding[];
  completeness: CompletenessResult;
}

/** What {@link runEvidenceJob} runs with: the builder's own store connection, day aggregates and key. */
export interface EvidenceJobContext {
  store: TimeSeriesStore;
  /** The builder's day aggregates, when it has a file for them. */
  dayAggregates(): DayAggregates | undefined;
  /** The builder's kept completeness day counts (evidence/day-counts.ts), when it has a file for them. */
  dayCounts?(): DayCounts | undefined;
  /** The signing key in `file`. @throws MrvError `MRV_E_CONFIG` */
  key(file: string): EvidenceKey;
}

/** The unit registry of one job: the unit's registration alone (all a build reads of it). */
function registryOf(job: UnitInputs): UnitRegistry | undefined {
  return job.registration ? new UnitRegistry([job.registration]) : undefined;
}

function ledgerOf(job: UnitInputs) {
  const meters = job.ledgerMeters;
  return meters ? async () => meters : undefined;
}

/**
 * Runs one job against `ctx`.
 * @throws MrvError as {@link buildEvidence} (evidence), {@link computeEvidence} and the rule pack's
 *   checks (findings) and {@link completenessToDate} (completeness)
 */
export async function runEvidenceJob<J extends EvidenceJob>(
  job: J,
  ctx: EvidenceJobContext,
): Promise<EvidenceJobResults[J['kind']]> {
  type R = EvidenceJobResults[J['kind']];
  const j = job as EvidenceJob;
  switch (j.kind) {
    case 'evidence': {
      let stats: EvidenceBuildResult['stats'] = null;
      const units = registryOf(j);
      const ledgerMeters = ledgerOf(j);
      const days = j.dayAggregates ? ctx.dayAggregates() : undefined;
      const pkg = await buildEvidence({
        store: ctx.store,
        unitId: j.unitId,
        month: j.month,
        now: j.now,
        generator: j.generator,
        key: ctx.key(j.keyFile),
        sites: j.sites,
        ...(units ? { units } : {}),
        ...(j.config ? { config: j.config } : {}),
        ...(ledgerMeters ? { ledgerMeters } : {}),
        ...(days ? { dayAggregates: days } : {}),
        onStats: (s) => {
          stats = s;
        },
      });
      return { pkg, stats } satisfies EvidenceBuildResult as R;
    }
    case 'findings': {
      const c = await unitCatalogue(ctx.store, j.unitId, j.sites, registryOf(j), ledgerOf(j));
      if (!c) throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${j.unitId}"`, { unitId: j.unitId });
      const rulePack = loadRulePack(c.unit.industry);
      checkRuleOverrides(c, rulePack);
      const window = { from: j.from, to: j.to };
      const watched = new SampleRuleRunner(rulePack, c.points, {
        unitId: j.unitId,
        ...window,
        at: 0,
      }).watchedPoints();
      const body = await computeEvidence({
        catalogue: c,
        month: 'window',
        window,
        source: storeSource(ctx.store, j.unitId),
        factorPack: loadFactorPack(),
        rulePack,
        generatedAt: j.now,
        generator: j.generator,
        extraPoints: watched,
        ...(j.config ? { config: j.config } : {}),
      });
      return body.findings satisfies Finding[] as R;
    }
    case 'completeness': {
      const dayCounts = ctx.dayCounts?.();
      return (await completenessToDate({
        store: ctx.store,
        unitId: j.unitId,
        month: j.month,
        now: j.now,
        sites: j.sites,
        ...(j.unit ? { unit: j.unit } : {}),
        ...(dayCounts ? { dayCounts } : {}),
      })) satisfies CompletenessResult as R;
    }
  }
}
