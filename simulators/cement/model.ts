/**
 * Pure model of a cement clinker line's weigh feeders and belt scales (docs/domain.md §2 cement): the
 * clinker belt scale (熟料皮带秤, clinker output 熟料产量), the raw meal feed (生料喂料), the kiln coal
 * feed (窑头/分解炉煤粉秤) and three substitute raw materials (非碳酸盐替代原料: carbide slag 电石渣,
 * steel slag 钢渣, fly ash 飞灰). No I/O, no timers, no `Date.now()`: the caller moves virtual time
 * with {@link CementPlantModel.advanceTo}.
 *
 * Time advances in whole ticks of one second; the state at `t` depends only on (seed, start, params,
 * t) and on the control calls made (reset a totalizer, restart a feeder). Totalizers count whole kg
 * exactly (the fraction is carried internally), so a client's totalizer difference over a period is
 * exactly the mass the model moved in whole kg.
 *
 * Units: rates t/h, masses kg, times ms since the Unix epoch.
 */
import { Prng } from '../prng.ts';

/** One model parameter: default, unit and source (docs/domain.md conventions). */
export interface ParameterInfo {
  value: number;
  unit: string;
  source: string;
}

/** Every tunable number of the cement model; the model code has no other plant constants. */
export const CEMENT_PARAMETERS = {
  clinkerTph: { value: 208, unit: 't/h', source: '[practice] a 5000 t/d clinker line makes about 208 t/h' },
  rawMealPerClinker: {
    value: 1.55,
    unit: 't/t',
    source: '[practice] about 1.5–1.6 t of raw meal per t of clinker (loss on ignition)',
  },
  coalPerClinker: {
    value: 0.13,
    unit: 't/t',
    source: '[practice] kiln + precalciner coal about 0.12–0.15 t per t clinker',
  },
  carbideSlagTph: { value: 20, unit: 't/h', source: 'simulator choice: carbide slag substitute feed' },
  steelSlagTph: { value: 8, unit: 't/h', source: 'simulator choice: steel slag substitute feed' },
  flyAshTph: { value: 12, unit: 't/h', source: 'simulator choice: fly ash substitute feed' },
  wanderFraction: {
    value: 0.02,
    unit: '1',
    source: 'simulator choice: standard deviation of the slow relative drift of each feed rate',
  },
  wanderTauS: { value: 600, unit: 's', source: 'simulator choice: correlation time of that drift (AR(1))' },
  noiseFraction: {
    value: 0.005,
    unit: '1',
    source: 'simulator choice: second-to-second relative noise of each rate reading',
  },
  kilnStopsPerDay: {
    value: 0.3,
    unit: '1/d',
    source: 'simulator choice: unplanned kiln stops (all feeds stop together)',
  },
  kilnStopMeanS: { value: 5400, unit: 's', source: 'simulator choice: mean kiln stop length (exponential)' },
  initialClinkerTotalKg: {
    value: 1_234_567_890,
    unit: 'kg',
    source: 'simulator choice: clinker totalizer at tick 0 (1 234 567.890 t; uint32 kg holds 4 294 967 t)',
  },
} as const satisfies Record<string, ParameterInfo>;

export type CementParamName = keyof typeof CEMENT_PARAMETERS;
export type CementParams = { [K in CementParamName]: number };

/** Defaults of every parameter. */
export const CEMENT_DEFAULTS: Readonly<CementParams> = Object.freeze(
  Object.fromEntries(Object.entries(CEMENT_PARAMETERS).map(([k, v]) => [k, v.value])) as CementParams,
);

/** The feeders of the line. */
export const FEEDER_IDS = ['clinker', 'rawmeal', 'coal', 'carbideSlag', 'steelSlag', 'flyAsh'] as const;
export type FeederId = (typeof FEEDER_IDS)[number];

/** What a feeder weighs: a product, a raw material or fuel, or a substitute raw material type. */
export interface FeederInfo {
  id: FeederId;
  /** Modbus unit id on the scale bus. */
  unitId: number;
  /** Material name as the scale's display shows it (ASCII, at most 16 characters). */
  material: string;
  /** Material name, Chinese. */
  materialZh: string;
  /**
   * Substitute raw material type code (0 when the feeder is not a substitute material), in the order
   * of the deduction-factor groups of docs/domain.md §2: 1 carbide slag (0.480), 2 fly ash 飞灰 (0.305),
   * 3 steel slag (0.215).
   */
  substituteType: number;
}

/** Feeders with their unit ids and materials. */
export const FEEDERS: Readonly<Record<FeederId, FeederInfo>> = {
  clinker: { id: 'clinker', unitId: 1, material: 'CLINKER', materialZh: '熟料', substituteType: 0 },
  rawmeal: { id: 'rawmeal', unitId: 2, material: 'RAW MEAL', materialZh: '生料', substituteType: 0 },
  coal: { id: 'coal', unitId: 3, material: 'KILN COAL', materialZh: '窑用煤粉', substituteType: 0 },
  carbideSlag: {
    id: 'carbideSlag',
    unitId: 4,
    material: 'CARBIDE SLAG',
    materialZh: '电石渣',
    substituteType: 1,
  },
  steelSlag: { id: 'steelSlag', unitId: 5, material: 'STEEL SLAG', materialZh: '钢渣', substituteType: 3 },
  flyAsh: { id: 'flyAsh', unitId: 6, material: 'FLY ASH', materialZh: '飞灰', substituteType: 2 },
};

/** The state of one feeder. */
export interface FeederState {
  /** Current rate reading, t/h (0 when stopped). */
  rateTph: number;
  /** Totalizer, whole kg since the last reset. */
  totalKg: number;
  running: boolean;
  /** Times the totalizer was reset. */
  resets: number;
  /** Power-failure flag: set by {@link CementPlantModel.restart}, cleared by `acknowledge`. */
  restarted: boolean;
}

/** Options of the model. */
export interface CementModelOptions {
  seed: number;
  /** Virtual time of tick 0, ms since the epoch. */
  start: number;
  params?: Partial<CementParams>;
}

/** The simulated clinker line. */
export class CementPlantModel {
  readonly params: Readonly<CementParams>;
  readonly #rng: Prng;
  readonly #start: number;
  #tick = 0;
  #wander: Record<FeederId, number>;
  #carryKg: Record<FeederId, number>;
  #state: Record<FeederId, FeederState>;
  #kilnStopLeftS = 0;
  #nextStopInS: number;

  constructor(o: CementModelOptions) {
    this.params = Object.freeze({ ...CEMENT_DEFAULTS, ...o.params });
    this.#rng = new Prng(o.seed);
    this.#start = o.start;
    const zero = () => Object.fromEntries(FEEDER_IDS.map((f) => [f, 0])) as Record<FeederId, number>;
    this.#wander = zero();
    this.#carryKg = zero();
    this.#state = Object.fromEntries(
      FEEDER_IDS.map((f) => [
        f,
        {
          rateTph: 0,
          totalKg: f === 'clinker' ? this.params.initialClinkerTotalKg : 0,
          running: true,
          resets: 0,
          restarted: false,
        },
      ]),
    ) as Record<FeederId, FeederState>;
    this.#nextStopInS = this.#drawStopGap();
    for (const f of FEEDER_IDS) this.#state[f].rateTph = this.#rate(f);
  }

  /** Virtual time of the last completed tick, ms. */
  get time(): number {
    return this.#start + this.#tick * 1000;
  }

  /** Runs every whole tick up to `ms` (virtual). Never goes back. */
  advanceTo(ms: number): void {
    while (this.#start + (this.#tick + 1) * 1000 <= ms) this.#step();
  }

  /** A copy of one feeder's state. */
  feeder(id: FeederId): FeederState {
    return { ...this.#state[id] };
  }

  /** Sets a feeder's totalizer to 0 (an operator's reset on the scale). */
  resetTotalizer(id: FeederId): void {
    const s = this.#state[id];
    s.totalKg = 0;
    this.#carryKg[id] = 0;
    s.resets++;
  }

  /** Marks a feeder as restarted (power cycle): the totalizer is non-volatile and survives; a status bit shows it. */
  restart(id: FeederId): void {
    this.#state[id].restarted = true;
  }

  /** Clears the power-failure flag (an operator's acknowledgement). */
  acknowledge(id: FeederId): void {
    this.#state[id].restarted = false;
  }

  /** Nominal rate of a feeder while the kiln runs, t/h. */
  nominalTph(id: FeederId): number {
    const p = this.params;
    switch (id) {
      case 'clinker':
        return p.clinkerTph;
      case 'rawmeal':
        return p.clinkerTph * p.rawMealPerClinker;
      case 'coal':
        return p.clinkerTph * p.coalPerClinker;
      case 'carbideSlag':
        return p.carbideSlagTph;
      case 'steelSlag':
        return p.steelSlagTph;
      case 'flyAsh':
        return p.flyAshTph;
    }
  }

  #drawStopGap(): number {
    return this.params.kilnStopsPerDay > 0
      ? this.#rng.exponential(86_400 / this.params.kilnStopsPerDay)
      : Infinity;
  }

  #rate(id: FeederId): number {
    if (this.#kilnStopLeftS > 0) return 0;
    const noise = this.#rng.normal(0, this.params.noiseFraction);
    return Math.max(0, this.nominalTph(id) * (1 + this.#wander[id] + noise));
  }

  #step(): void {
    this.#tick++;
    const p = this.params;
    if (this.#kilnStopLeftS > 0) this.#kilnStopLeftS--;
    else if (--this.#nextStopInS <= 0) {
      this.#kilnStopLeftS = Math.max(60, Math.round(this.#rng.exponential(p.kilnStopMeanS)));
      this.#nextStopInS = this.#drawStopGap();
    }
    const a = Math.exp(-1 / p.wanderTauS);
    for (const f of FEEDER_IDS) {
      this.#wander[f] = a * this.#wander[f] + Math.sqrt(1 - a * a) * this.#rng.normal(0, p.wanderFraction);
      const s = this.#state[f];
      s.rateTph = this.#rate(f);
      s.running = this.#kilnStopLeftS === 0;
      const kg = this.#carryKg[f] + (s.rateTph * 1000) / 3600;
      const whole = Math.floor(kg);
      this.#carryKg[f] = kg - whole;
      s.totalKg = (s.totalKg + whole) % 2 ** 32; // a uint32 totalizer wraps, as the meter's does
    }
  }
}
