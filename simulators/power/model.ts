/**
 * Pure model of a coal-fired combined heat and power unit (燃煤热电联产机组, docs/domain.md §2 power) as its
 * metering sees it: two coal feeders (给煤机) with weigh belts, the as-fired coal conveyor's belt scale
 * (入炉煤皮带秤) filling the bunkers, the generator-terminal energy meter (发电机出口电能表), station
 * service (厂用电) energy, the grid tariff meter (关口表: export 上网, import 下网 = purchased electricity)
 * and the steam heat meter (供热量). No I/O, no timers, no `Date.now()`: the caller moves virtual time
 * with {@link PowerPlantModel.advanceTo}.
 *
 * Physics, one tick per second: the dispatched gross load follows a daily curve (peak at 14:00 China
 * time) with a slow AGC wander; steam export wanders around its mean. Standard coal (标准煤, 29.271
 * MJ/kg) = gross energy × generation coal rate + heat × heat coal rate; as-fired coal = standard coal ×
 * 29.271 / as-fired NCV, split between the two feeders. The conveyor runs at its own rate whenever the
 * bunker level falls to its low mark, until the high mark, so over days the conveyor total follows
 * the feeders' sum (within the bunker inventory and the scales' errors). Station service is a fraction
 * of gross while running; the switchyard sees gross − station service − step-up transformer losses,
 * exported when positive, imported when negative (a tripped unit draws its standby load from the grid).
 *
 * The state at `t` depends only on (seed, start, params, t) and on the control calls made. Totalizers
 * count whole raw units exactly (kg, 0.1 t, kWh, 0.01 GJ; the fraction is carried internally), so a
 * client's totalizer difference is exactly what the model moved, in those units.
 *
 * Units: MW, t/h, GJ/h; times ms since the Unix epoch.
 */
import { Prng } from '../prng.ts';
import {
  type ModelOptions,
  type ParameterInfo,
  type ParamValues,
  parameterDefaults,
} from '../shared/parameters.ts';

export type { ParameterInfo } from '../shared/parameters.ts';

/** Every tunable number of the power model; the model code has no other plant constants. */
export const POWER_PARAMETERS = {
  meanGrossMw: {
    value: 210,
    unit: 'MW',
    source: 'simulator choice: a 300 MW class unit at about 70 % load (two feeders of ≤ 60 t/h carry it)',
  },
  dailySwing: {
    value: 0.15,
    unit: '1',
    source: 'simulator choice: relative amplitude of the daily load curve (peak 14:00, trough 02:00 CST)',
  },
  genCoalGPerKwh: {
    value: 290,
    unit: 'gce/kWh',
    source:
      '[practice, unconfirmed] gross generation standard coal rate (发电标准煤耗) of a subcritical/supercritical unit, 280–300; national average supply coal rate (供电煤耗) about 300',
  },
  heatCoalKgPerGj: {
    value: 39.5,
    unit: 'kgce/GJ',
    source:
      '[practice, unconfirmed] heat supply standard coal rate (供热标准煤耗) 39–40 kgce/GJ (boiler and pipe efficiency about 86 %)',
  },
  standardCoalNcv: {
    value: 29.271,
    unit: 'MJ/kg',
    source: '[official] standard coal (标准煤) 7000 kcal/kg, GB/T 2589',
  },
  asFiredNcv: {
    value: 20.93,
    unit: 'MJ/kg',
    source: '[practice] as-fired thermal coal of 5000 kcal/kg (收到基低位发热量)',
  },
  feederImbalance: {
    value: 0.03,
    unit: '1',
    source: 'simulator choice: standard deviation of feeder A’s share around one half (mill bias)',
  },
  meanSteamTph: {
    value: 50,
    unit: 't/h',
    source: 'simulator choice: industrial steam export, within the heat meter range 5–80 t/h',
  },
  steamHeatGjPerT: {
    value: 2.8,
    unit: 'GJ/t',
    source:
      '[practice, unconfirmed] enthalpy of 1.0 MPa / 280 °C steam (≈ 3.0 GJ/t) less condensate return / make-up water',
  },
  auxFraction: {
    value: 0.055,
    unit: '1',
    source:
      '[practice, unconfirmed] station service rate (厂用电率) 5–6 % of gross for a coal unit with wet FGD',
  },
  auxStandbyMw: {
    value: 2,
    unit: 'MW',
    source: 'simulator choice: station service drawn from the grid while the unit is off',
  },
  transformerLossFraction: {
    value: 0.003,
    unit: '1',
    source: '[practice, unconfirmed] step-up transformer losses about 0.3 % of throughput',
  },
  wanderFraction: {
    value: 0.03,
    unit: '1',
    source: 'simulator choice: standard deviation of the slow relative drift (AGC, steam demand)',
  },
  wanderTauS: { value: 900, unit: 's', source: 'simulator choice: correlation time of that drift (AR(1))' },
  noiseFraction: {
    value: 0.003,
    unit: '1',
    source: 'simulator choice: second-to-second relative noise of each rate reading',
  },
  tripsPerDay: {
    value: 0.02,
    unit: '1/d',
    source: 'simulator choice: unplanned unit trips (about one in 50 days)',
  },
  tripMeanS: {
    value: 21_600,
    unit: 's',
    source: 'simulator choice: mean outage after a trip (exponential, ≥ 1 h)',
  },
  bunkerCapacityT: {
    value: 1000,
    unit: 't',
    source: 'simulator choice: two raw coal bunkers (原煤仓) of 500 t',
  },
  bunkerLowFraction: {
    value: 0.4,
    unit: '1',
    source: 'simulator choice: bunker level at which the coal handling starts the conveyor',
  },
  bunkerHighFraction: {
    value: 0.9,
    unit: '1',
    source: 'simulator choice: level at which the conveyor stops',
  },
  initialBunkerFraction: { value: 0.65, unit: '1', source: 'simulator choice: bunker level at tick 0' },
  conveyorTph: {
    value: 800,
    unit: 't/h',
    source: 'simulator choice: conveyor C6 flow while running (belt scale range 100–1200 t/h)',
  },
  conveyorScaleBias: {
    value: 0.003,
    unit: '1',
    source: 'simulator choice: systematic error of the conveyor belt scale (class 0.5: within ±0.5 %)',
  },
  initialFeederAKg: {
    value: 123_456_789,
    unit: 'kg',
    source: 'simulator choice: feeder A totalizer at tick 0',
  },
  initialFeederBKg: {
    value: 118_765_432,
    unit: 'kg',
    source: 'simulator choice: feeder B totalizer at tick 0',
  },
  initialConveyor100Kg: {
    value: 2_425_000,
    unit: '0.1 t',
    source: 'simulator choice: conveyor totalizer at tick 0 (242 500.0 t)',
  },
  initialGenKwh: {
    value: 876_543_210,
    unit: 'kWh',
    source: 'simulator choice: generator energy at tick 0 (uint32 kWh wraps at 4 294 967 MWh)',
  },
  initialAuxKwh: {
    value: 48_210_987,
    unit: 'kWh',
    source: 'simulator choice: station service energy at tick 0',
  },
  initialExportKwh: { value: 815_303_030, unit: 'kWh', source: 'simulator choice: tariff export at tick 0' },
  initialImportKwh: { value: 1_234_567, unit: 'kWh', source: 'simulator choice: tariff import at tick 0' },
  initialHeat10MJ: {
    value: 123_456_789,
    unit: '0.01 GJ',
    source: 'simulator choice: heat meter at tick 0 (1 234 567.89 GJ)',
  },
} as const satisfies Record<string, ParameterInfo>;

/** Values of every parameter. */
export type PowerParams = ParamValues<typeof POWER_PARAMETERS>;

/** Defaults of every parameter. */
export const POWER_DEFAULTS: Readonly<PowerParams> = parameterDefaults(POWER_PARAMETERS);

/** The totalizers of the unit, in their raw (register) units. */
export const COUNTER_IDS = [
  'feederAKg',
  'feederBKg',
  'conveyor100Kg',
  'genKwh',
  'auxKwh',
  'exportKwh',
  'importKwh',
  'heat10MJ',
] as const;
/** One of {@link COUNTER_IDS}. */
export type CounterId = (typeof COUNTER_IDS)[number];

/** What the meters of the unit read at one instant. */
export interface PowerSnapshot {
  /** Virtual time of the last tick, ms. */
  time: number;
  /** The unit is synchronised and generating (false during a trip). */
  running: boolean;
  /** Rate readings, t/h (with the scales' noise). */
  feederATph: number;
  feederBTph: number;
  conveyorTph: number;
  /** Generator active power, MW. */
  grossMw: number;
  /** Station service load, MW. */
  auxMw: number;
  /** Steam export, t/h, and heat flow, GJ/h. */
  steamTph: number;
  heatGjph: number;
  /** Coal in the bunkers, t (not metered: the cross-check's inventory term). */
  bunkerT: number;
  /** As-fired coal NCV as the plant lab reports it (收到基低位发热量), GJ/t (= MJ/kg). */
  asFiredNcvGjPerT: number;
  /** Totalizers in whole raw units (they wrap at 2³² in the registers). */
  counters: Readonly<Record<CounterId, number>>;
}

/** Options of the model. */
export type PowerModelOptions = ModelOptions<PowerParams>;

/** The simulated coal-fired unit. */
export class PowerPlantModel {
  readonly params: Readonly<PowerParams>;
  readonly #rng: Prng;
  readonly #start: number;
  #tick = 0;
  #loadWander = 0;
  #steamWander = 0;
  #split = 0;
  #tripLeftS = 0;
  #nextTripInS: number;
  #conveyorOn = false;
  #bunkerT: number;
  #rates = { feederA: 0, feederB: 0, conveyor: 0, grossMw: 0, auxMw: 0, steamTph: 0 };
  readonly #counters: Record<CounterId, number>;
  readonly #carry: Record<CounterId, number>;

  constructor(o: PowerModelOptions) {
    this.params = Object.freeze({ ...POWER_DEFAULTS, ...o.params });
    const p = this.params;
    this.#rng = new Prng(o.seed);
    this.#start = o.start;
    this.#bunkerT = p.bunkerCapacityT * p.initialBunkerFraction;
    this.#counters = {
      feederAKg: p.initialFeederAKg,
      feederBKg: p.initialFeederBKg,
      conveyor100Kg: p.initialConveyor100Kg,
      genKwh: p.initialGenKwh,
      auxKwh: p.initialAuxKwh,
      exportKwh: p.initialExportKwh,
      importKwh: p.initialImportKwh,
      heat10MJ: p.initialHeat10MJ,
    };
    this.#carry = Object.fromEntries(COUNTER_IDS.map((c) => [c, 0])) as Record<CounterId, number>;
    this.#nextTripInS = this.#drawTripGap();
    this.#updateRates();
  }

  /** Virtual time of the last completed tick, ms. */
  get time(): number {
    return this.#start + this.#tick * 1000;
  }

  /** Runs every whole tick up to `ms` (virtual). Never goes back. */
  advanceTo(ms: number): void {
    while (this.#start + (this.#tick + 1) * 1000 <= ms) this.#step();
  }

  /** What the meters read now (a copy). */
  snapshot(): PowerSnapshot {
    const r = this.#rates;
    return {
      time: this.time,
      running: this.#tripLeftS === 0,
      feederATph: r.feederA,
      feederBTph: r.feederB,
      conveyorTph: r.conveyor,
      grossMw: r.grossMw,
      auxMw: r.auxMw,
      steamTph: r.steamTph,
      heatGjph: r.steamTph * this.params.steamHeatGjPerT,
      bunkerT: this.#bunkerT,
      asFiredNcvGjPerT: this.params.asFiredNcv,
      counters: { ...this.#counters },
    };
  }

  /** Sets a totalizer to 0 (a meter replaced or reset by an operator). */
  resetCounter(id: CounterId): void {
    this.#counters[id] = 0;
    this.#carry[id] = 0;
  }

  /** Trips the unit now for `seconds` of simulated time (load, coal and steam go to zero). */
  trip(seconds: number): void {
    this.#tripLeftS = Math.max(1, Math.round(seconds));
    this.#updateRates();
  }

  /** Dispatched gross load at virtual time `ms` before the AGC wander, MW (daily curve, China time). */
  scheduledMw(ms: number): number {
    const hourCst = (((ms / 3_600_000 + 8) % 24) + 24) % 24;
    return (
      this.params.meanGrossMw * (1 + this.params.dailySwing * Math.cos((2 * Math.PI * (hourCst - 14)) / 24))
    );
  }

  /** As-fired coal needed for `grossMw` and `heatGjph`, t/h (standard coal converted by NCV). */
  coalTph(grossMw: number, heatGjph: number): number {
    const p = this.params;
    // MW × gce/kWh = kgce/h; GJ/h × kgce/GJ = kgce/h.
    const standardKgph = grossMw * p.genCoalGPerKwh + heatGjph * p.heatCoalKgPerGj;
    return ((standardKgph / 1000) * p.standardCoalNcv) / p.asFiredNcv;
  }

  #drawTripGap(): number {
    return this.params.tripsPerDay > 0 ? this.#rng.exponential(86_400 / this.params.tripsPerDay) : Infinity;
  }

  #noisy(v: number): number {
    return v === 0 ? 0 : Math.max(0, v * (1 + this.#rng.normal(0, this.params.noiseFraction)));
  }

  #updateRates(): void {
    const p = this.params;
    const running = this.#tripLeftS === 0;
    const grossMw = running ? Math.max(0, this.scheduledMw(this.time) * (1 + this.#loadWander)) : 0;
    const steamTph = running ? Math.max(0, p.meanSteamTph * (1 + this.#steamWander)) : 0;
    const coal = this.coalTph(grossMw, steamTph * p.steamHeatGjPerT);
    const shareA = Math.min(1, Math.max(0, 0.5 + this.#split));
    this.#rates = {
      feederA: this.#noisy(coal * shareA),
      feederB: this.#noisy(coal * (1 - shareA)),
      conveyor: this.#conveyorOn ? this.#noisy(p.conveyorTph) * (1 + p.conveyorScaleBias) : 0,
      grossMw: this.#noisy(grossMw),
      auxMw: running ? this.#noisy(grossMw * p.auxFraction) : this.#noisy(p.auxStandbyMw),
      steamTph: this.#noisy(steamTph),
    };
  }

  #add(id: CounterId, amount: number): void {
    const v = this.#carry[id] + amount;
    const whole = Math.floor(v);
    this.#carry[id] = v - whole;
    this.#counters[id] = (this.#counters[id] + whole) % 2 ** 32; // a uint32 totalizer wraps, as the meter's does
  }

  #step(): void {
    this.#tick++;
    const p = this.params;
    if (this.#tripLeftS > 0) this.#tripLeftS--;
    else if (--this.#nextTripInS <= 0) {
      this.#tripLeftS = Math.max(3600, Math.round(this.#rng.exponential(p.tripMeanS)));
      this.#nextTripInS = this.#drawTripGap();
    }
    const a = Math.exp(-1 / p.wanderTauS);
    const b = Math.sqrt(1 - a * a);
    this.#loadWander = a * this.#loadWander + b * this.#rng.normal(0, p.wanderFraction);
    this.#steamWander = a * this.#steamWander + b * this.#rng.normal(0, p.wanderFraction);
    this.#split = a * this.#split + b * this.#rng.normal(0, p.feederImbalance);
    const level = this.#bunkerT / p.bunkerCapacityT;
    if (!this.#conveyorOn && level <= p.bunkerLowFraction) this.#conveyorOn = true;
    else if (this.#conveyorOn && level >= p.bunkerHighFraction) this.#conveyorOn = false;
    this.#updateRates();
    const r = this.#rates;
    // One second of each flow; the totalizers integrate what their meters read.
    this.#add('feederAKg', (r.feederA * 1000) / 3600);
    this.#add('feederBKg', (r.feederB * 1000) / 3600);
    this.#add('conveyor100Kg', (r.conveyor * 10) / 3600);
    this.#bunkerT = Math.max(
      0,
      this.#bunkerT + (r.conveyor / (1 + p.conveyorScaleBias) - r.feederA - r.feederB) / 3600,
    );
    this.#add('genKwh', (r.grossMw * 1000) / 3600);
    this.#add('auxKwh', (r.auxMw * 1000) / 3600);
    const netMw = r.grossMw * (1 - p.transformerLossFraction) - r.auxMw;
    if (netMw >= 0) this.#add('exportKwh', (netMw * 1000) / 3600);
    else this.#add('importKwh', (-netMw * 1000) / 3600);
    this.#add('heat10MJ', (r.steamTph * p.steamHeatGjPerT * 100) / 3600);
  }
}
