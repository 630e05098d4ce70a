/**
 * Pure model of the metered points of an integrated (BF–BOF) steel plant that the steel guideline's
 * key parameters need (docs/domain.md; steel: crude steel output, fuels and carbon-bearing inputs,
 * carbon-bearing product outputs). No I/O, no timers, no `Date.now()`: the caller moves virtual time
 * with {@link SteelPlantModel.advanceTo}, so the state at `t` depends only on (seed, start, params, t).
 *
 * Simulated:
 * - **BOF crude steel** (转炉粗钢): a heat is tapped into a ladle every `heatIntervalS` (± jitter);
 *   the ladle crane scale issues a ticket (heat number, net kg). Crude steel total = Σ net weights.
 * - **Fuels and gases** as flow rates with a slow first-order drift and measurement noise, each with
 *   an exact totalizer (whole Nm³ or kg, the fraction carried): coke-oven gas (焦炉煤气) and
 *   blast-furnace gas (高炉煤气) burnt, natural gas (天然气), pulverised coal injected (喷吹煤) and
 *   coke charged (焦炭) at the blast furnace.
 * - **Carbon-bearing product outputs** (含碳产品): converter gas (LDG, 转炉煤气) recovered per tonne
 *   of steel at each heat, and coke-oven by-products tar (焦油) and crude benzol (粗苯) as totalizers.
 *
 * Units: flows Nm³/h or t/h, totals Nm³ or kg, masses kg, times ms since the epoch. One tick is one
 * second of virtual time; the draws per tick are in a fixed order (part of the determinism contract).
 */
import { Prng } from '../prng.ts';

/** One model parameter: default, unit and where the number comes from. */
export interface SteelParameterInfo {
  value: number;
  unit: string;
  source: string;
}

/** Every tunable number of the steel model, with its default, unit and source. */
export const STEEL_PARAMETERS = {
  heatIntervalS: {
    value: 2400,
    unit: 's',
    source: '[practice] a BOF tap-to-tap time is about 35–45 min',
  },
  heatJitterS: {
    value: 180,
    unit: 's',
    source: 'simulator choice: standard deviation of the tap-to-tap time',
  },
  heatNetMeanKg: { value: 120_000, unit: 'kg', source: '[practice] a 120 t converter' },
  heatNetSdKg: { value: 2500, unit: 'kg', source: 'simulator choice: spread of the tapped weight' },
  ldgPerTonneNm3: {
    value: 100,
    unit: 'Nm³/t',
    source: '[practice] converter gas recovery about 80–120 Nm³ per tonne of steel',
  },
  cogFlowNm3h: {
    value: 20_000,
    unit: 'Nm³/h',
    source: 'simulator choice: COG burnt in the plant (a 2 Mt/a works)',
  },
  bfgFlowNm3h: { value: 300_000, unit: 'Nm³/h', source: '[practice] BFG about 1500 Nm³ per t hot metal' },
  ngFlowNm3h: { value: 2_000, unit: 'Nm³/h', source: 'simulator choice: natural gas to reheating furnaces' },
  pciRateTph: { value: 36, unit: 't/h', source: '[practice] PCI about 150 kg per t hot metal at ~240 t/h' },
  cokeRateTph: { value: 84, unit: 't/h', source: '[practice] coke rate about 350 kg per t hot metal' },
  tarRateTph: { value: 4, unit: 't/h', source: '[practice] tar about 3–4 % of the coal carbonised' },
  limestoneRateTph: {
    value: 12,
    unit: 't/h',
    source:
      'simulator choice: limestone flux to the sinter plant and the converter (about 65 kg per t steel)',
  },
  benzolRateTph: {
    value: 1.3,
    unit: 't/h',
    source: '[practice] crude benzol about 1 % of the coal carbonised',
  },
  flowWanderFraction: {
    value: 0.03,
    unit: '1',
    source: 'simulator choice: slow drift of every flow, as a fraction of its set-point',
  },
  flowWanderTauS: { value: 1200, unit: 's', source: 'simulator choice: correlation time of the drift' },
  flowNoiseFraction: {
    value: 0.01,
    unit: '1',
    source: 'simulator choice: second-to-second measurement noise',
  },
} satisfies Record<string, SteelParameterInfo>;

/** Parameter names. */
export type SteelParamName = keyof typeof STEEL_PARAMETERS;
/** Parameter values by name. */
export type SteelParams = Record<SteelParamName, number>;

/** Default parameters. */
export const STEEL_DEFAULTS: Readonly<SteelParams> = Object.freeze(
  Object.fromEntries(Object.entries(STEEL_PARAMETERS).map(([k, v]) => [k, v.value])) as SteelParams,
);

/** The flows with a totalizer, in the order they are drawn each tick. */
export const STEEL_FLOWS = ['cog', 'bfg', 'ng', 'pci', 'coke', 'tar', 'benzol', 'limestone'] as const;
/** One of {@link STEEL_FLOWS}. */
export type SteelFlow = (typeof STEEL_FLOWS)[number];

/** Rate unit and total unit of each flow: gases in Nm³/h and Nm³, solids and liquids in t/h and kg. */
export const FLOW_UNITS: Readonly<Record<SteelFlow, { rate: 'Nm³/h' | 't/h'; total: 'Nm³' | 'kg' }>> = {
  cog: { rate: 'Nm³/h', total: 'Nm³' },
  bfg: { rate: 'Nm³/h', total: 'Nm³' },
  ng: { rate: 'Nm³/h', total: 'Nm³' },
  pci: { rate: 't/h', total: 'kg' },
  coke: { rate: 't/h', total: 'kg' },
  tar: { rate: 't/h', total: 'kg' },
  benzol: { rate: 't/h', total: 'kg' },
  limestone: { rate: 't/h', total: 'kg' },
};

const SET_POINT: Record<SteelFlow, SteelParamName> = {
  cog: 'cogFlowNm3h',
  bfg: 'bfgFlowNm3h',
  ng: 'ngFlowNm3h',
  pci: 'pciRateTph',
  coke: 'cokeRateTph',
  tar: 'tarRateTph',
  benzol: 'benzolRateTph',
  limestone: 'limestoneRateTph',
};

/** The last ladle ticket of the BOF crane scale. */
export interface HeatTicket {
  /** Heat number (炉号), increasing from 1; 0 before the first heat. */
  heatNo: number;
  /** Tap time, ms since the epoch (0 before the first heat). */
  time: number;
  /** Net crude steel in the ladle, kg (integer). */
  netKg: number;
}

/** What the plant's meters show now. */
export interface SteelSnapshot {
  time: number;
  tick: number;
  bof: HeatTicket & { crudeSteelTotalKg: number; heats: number; ldgTotalNm3: number };
  /** Flow rates now (Nm³/h or t/h, see {@link FLOW_UNITS}). */
  rates: Record<SteelFlow, number>;
  /** Totalizers (whole Nm³ or kg). */
  totals: Record<SteelFlow, number>;
}

/** Options of {@link SteelPlantModel}. */
export interface SteelModelOptions {
  seed: number;
  /** Virtual time of tick 0, ms since the epoch. */
  start: number;
  params?: Partial<SteelParams>;
}

const TICK_MS = 1000;

/**
 * The steel plant. Construct with a seed and a start instant, call {@link advanceTo} with the clock's
 * time, then read {@link snapshot}. Deterministic; no I/O.
 * @example
 * const m = new SteelPlantModel({ seed: 1, start: Date.UTC(2026, 0, 1) });
 * m.advanceTo(m.start + 86_400_000);
 * m.snapshot().bof.crudeSteelTotalKg; // ≈ 36 heats × 120 t
 */
export class SteelPlantModel {
  readonly params: Readonly<SteelParams>;
  readonly seed: number;
  readonly start: number;
  readonly #rng: Prng;
  readonly #phi: number;
  readonly #innovation: number;
  #tick = 0;
  #drift: Record<SteelFlow, number>;
  #rates: Record<SteelFlow, number>;
  #totals: Record<SteelFlow, number>;
  #frac: Record<SteelFlow, number>;
  #nextHeatS: number;
  #ticket: HeatTicket = { heatNo: 0, time: 0, netKg: 0 };
  #crudeKg = 0;
  #ldgFrac = 0;
  #ldgNm3 = 0;

  constructor(options: SteelModelOptions) {
    const p: SteelParams = { ...STEEL_DEFAULTS, ...options.params };
    for (const [k, v] of Object.entries(p))
      if (!Number.isFinite(v) || v < 0)
        throw new RangeError(`steel model: ${k} must be a finite number >= 0, got ${v}`);
    if (!(p.heatIntervalS > 0) || !(p.flowWanderTauS > 0))
      throw new RangeError('steel model: heatIntervalS and flowWanderTauS must be > 0');
    if (!Number.isFinite(options.start)) throw new RangeError('steel model: start must be a finite ms epoch');
    this.params = Object.freeze(p);
    this.seed = options.seed >>> 0;
    this.start = options.start;
    this.#rng = new Prng(this.seed ^ 0x5eed57ee);
    this.#phi = Math.exp(-1 / p.flowWanderTauS);
    this.#innovation = p.flowWanderFraction * Math.sqrt(1 - this.#phi * this.#phi);
    const zero = () => Object.fromEntries(STEEL_FLOWS.map((f) => [f, 0])) as Record<SteelFlow, number>;
    this.#drift = zero();
    this.#totals = zero();
    this.#frac = zero();
    this.#rates = Object.fromEntries(STEEL_FLOWS.map((f) => [f, p[SET_POINT[f]]])) as Record<
      SteelFlow,
      number
    >;
    this.#nextHeatS = this.#drawHeatInterval();
  }

  /** Virtual time of the last tick applied. */
  get time(): number {
    return this.start + this.#tick * TICK_MS;
  }

  /** Runs every whole 1-second tick whose end is at or before `ms`; never goes back. */
  advanceTo(ms: number): void {
    const target = Math.floor((ms - this.start) / TICK_MS);
    while (this.#tick < target) this.#step();
  }

  #drawHeatInterval(): number {
    const p = this.params;
    return Math.max(600, p.heatIntervalS + this.#rng.normal(0, p.heatJitterS));
  }

  #step(): void {
    const p = this.params;
    const rng = this.#rng;
    const n = ++this.#tick;
    for (const f of STEEL_FLOWS) {
      const sp = p[SET_POINT[f]];
      this.#drift[f] = this.#phi * this.#drift[f] + rng.normal(0, this.#innovation);
      const rate = Math.max(0, sp * (1 + this.#drift[f] + rng.normal(0, p.flowNoiseFraction)));
      this.#rates[f] = rate;
      // One second of flow: Nm³/h ÷ 3600 Nm³, or t/h × 1000 ÷ 3600 kg.
      this.#frac[f] += FLOW_UNITS[f].total === 'kg' ? (rate * 1000) / 3600 : rate / 3600;
      const whole = Math.floor(this.#frac[f]);
      this.#totals[f] += whole;
      this.#frac[f] -= whole;
    }
    if (n >= this.#nextHeatS) {
      const netKg = Math.round(Math.max(p.heatNetMeanKg * 0.8, rng.normal(p.heatNetMeanKg, p.heatNetSdKg)));
      this.#ticket = { heatNo: this.#ticket.heatNo + 1, time: this.start + n * TICK_MS, netKg };
      this.#crudeKg += netKg;
      this.#ldgFrac += (netKg / 1000) * p.ldgPerTonneNm3;
      const whole = Math.floor(this.#ldgFrac);
      this.#ldgNm3 += whole;
      this.#ldgFrac -= whole;
      this.#nextHeatS = n + this.#drawHeatInterval();
    }
  }

  /** What every meter shows now (after the last {@link advanceTo}). */
  snapshot(): SteelSnapshot {
    return {
      time: this.time,
      tick: this.#tick,
      bof: {
        ...this.#ticket,
        crudeSteelTotalKg: this.#crudeKg,
        heats: this.#ticket.heatNo,
        ldgTotalNm3: this.#ldgNm3,
      },
      rates: { ...this.#rates },
      totals: { ...this.#totals },
    };
  }
}
