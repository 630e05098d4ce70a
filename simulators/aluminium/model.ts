/**
 * Pure model of an aluminium smelter's metered stations (docs/domain.md §2): a pot-line with its DC
 * electricity totalizer, a vacuum-ladle weighing station (真空抬包) and an anode-setting station.
 * No I/O, no timers, no `Date.now()`: the caller moves virtual time with {@link AluminiumSmelterModel.advanceTo}.
 *
 * Time advances in fixed ticks of one second of virtual time. `advanceTo(t)` runs every whole tick
 * whose end is at or before `t`, so the state at `t` depends only on (seed, start, params, t), never
 * on how often or in which steps it was advanced. Quantities that are white noise from second to
 * second (cell voltages) are drawn with counter-based hashes of (seed, tick, cell) when read, so they
 * cost nothing between reads; everything that accumulates (current drift, energy, metal, anodes,
 * anode effects) runs every tick from one sequential generator.
 *
 * Units: current kA, voltage V, power kW (kA × V = kW), energy Wh internally, masses kg, times ms
 * since the Unix epoch (ticket times s since the epoch).
 */
import { hashNormal, Prng } from '../prng.ts';

/** One model parameter: its default, unit and where the number comes from (docs/domain.md conventions). */
export interface ParameterInfo {
  /** Default value. */
  value: number;
  /** Unit of `value`. */
  unit: string;
  /** Source and standing: [official], [practice] or [unconfirmed], or "simulator choice". */
  source: string;
}

/**
 * Every tunable number of the smelter model, with its default, unit and source. This is the single
 * place practice or unconfirmed figures live; the model code has no other plant constants.
 */
export const ALUMINIUM_PARAMETERS = {
  lineCurrentKA: {
    value: 400,
    unit: 'kA',
    source: '[practice] docs/domain.md §2: pot-line current 350–500 kA',
  },
  currentWanderKA: {
    value: 1.5,
    unit: 'kA',
    source: 'simulator choice: standard deviation of the slow drift of the regulated line current',
  },
  currentWanderTauS: {
    value: 900,
    unit: 's',
    source: 'simulator choice: correlation time of that drift (first-order, AR(1))',
  },
  currentNoiseKA: {
    value: 0.3,
    unit: 'kA',
    source: 'simulator choice: second-to-second measurement noise of the current transducer',
  },
  cellsInLine: {
    value: 300,
    unit: 'cells',
    source: '[practice] a modern 400 kA pot-line has about 250–400 cells in series',
  },
  monitoredCells: {
    value: 24,
    unit: 'cells',
    source: 'simulator choice: cells 1…N of the line whose voltage is exposed on the pot-line station',
  },
  cellVoltageV: {
    value: 4.2,
    unit: 'V',
    source: '[practice] docs/domain.md §2: cell voltage about 4.1–4.3 V (§5: 3.8–4.6 V normal)',
  },
  cellVoltageSpreadV: {
    value: 0.05,
    unit: 'V',
    source: 'simulator choice: standard deviation of the fixed offset of each monitored cell',
  },
  cellVoltageNoiseV: {
    value: 0.02,
    unit: 'V',
    source: 'simulator choice: second-to-second cell voltage noise',
  },
  cellSlopeVPerKA: {
    value: 0.0064,
    unit: 'V/kA',
    source: '[practice] U = E0 + I·R with E0 ≈ 1.65 V, so R ≈ (4.2 − 1.65) V / 400 kA ≈ 6.4 µΩ',
  },
  lineVoltageNoiseV: {
    value: 0.5,
    unit: 'V',
    source: 'simulator choice: noise of the total line voltage',
  },
  anodeEffectsPerCellDay: {
    value: 0.15,
    unit: '1/(cell·d)',
    source: '[practice] modern prebake lines 0.05–0.3 anode effects per cell-day',
  },
  anodeEffectMinV: {
    value: 30,
    unit: 'V',
    source: '[practice] docs/domain.md §2: an anode effect jumps to 30–50 V',
  },
  anodeEffectMaxV: {
    value: 50,
    unit: 'V',
    source: '[practice] docs/domain.md §2: an anode effect jumps to 30–50 V',
  },
  anodeEffectMedianS: {
    value: 60,
    unit: 's',
    source: '[practice] anode effects last tens of seconds to a few minutes (log-normal median)',
  },
  anodeEffectSigmaLn: {
    value: 0.6,
    unit: '1',
    source: 'simulator choice: log-normal shape of the anode-effect duration',
  },
  anodeEffectMinS: {
    value: 10,
    unit: 's',
    source: 'simulator choice: shortest anode effect (below the detection time of a pot controller)',
  },
  anodeEffectMaxS: {
    value: 300,
    unit: 's',
    source: 'simulator choice: longest anode effect before the operator kills it',
  },
  faradayKgPerKAh: {
    value: 0.3356,
    unit: 'kg/(kA·h)',
    source: "[official physics] Faraday's law for Al³⁺: 26.98 g/mol / (3 × 96485 C/mol) × 3.6e6 C/(kA·h)",
  },
  currentEfficiency: {
    value: 0.93,
    unit: '1',
    source: '[practice] current efficiency of modern prebake cells 0.92–0.95',
  },
  ladleNetMeanKg: {
    value: 3000,
    unit: 'kg',
    source: '[practice] a vacuum ladle (真空抬包) carries 2–4 t per tap',
  },
  ladleNetSdKg: {
    value: 350,
    unit: 'kg',
    source: 'simulator choice: spread of the net weight per tap',
  },
  ladleNetMinKg: {
    value: 2000,
    unit: 'kg',
    source: '[practice] a vacuum ladle (真空抬包) carries 2–4 t per tap',
  },
  ladleNetMaxKg: {
    value: 4000,
    unit: 'kg',
    source: '[practice] a vacuum ladle (真空抬包) carries 2–4 t per tap',
  },
  ladleFleet: {
    value: 6,
    unit: 'ladles',
    source: 'simulator choice: ladles in service, each with its own tare',
  },
  ladleTareMeanKg: {
    value: 3900,
    unit: 'kg',
    source: '[practice] empty weight of a 4 t vacuum ladle with its lining, order of 3.5–4.5 t',
  },
  ladleTareSpreadKg: {
    value: 120,
    unit: 'kg',
    source: 'simulator choice: standard deviation of tare between ladles',
  },
  ladleCrustSdKg: {
    value: 25,
    unit: 'kg',
    source: '[practice] docs/domain.md §2: frozen electrolyte in the ladle changes the tare from tap to tap',
  },
  anodeBlockKg: {
    value: 1100,
    unit: 'kg',
    source: '[practice] a prebaked anode block for 400 kA cells weighs about 1.1 t',
  },
  anodeBlockSdKg: {
    value: 12,
    unit: 'kg',
    source: 'simulator choice: spread of new block weight',
  },
  buttFraction: {
    value: 0.225,
    unit: '1',
    source: '[practice] butts (残极) are about 20–25 % of the new block weight',
  },
  buttFractionSd: {
    value: 0.012,
    unit: '1',
    source: 'simulator choice: spread of the butt fraction',
  },
  netAnodePerTonAl: {
    value: 0.41,
    unit: 't/t Al',
    source:
      '[practice] docs/domain.md §5: net anode consumption 0.40–0.45 t per t Al; sets the anode-setting rate',
  },
  initialEnergyKWh: {
    value: 4_000_000_000,
    unit: 'kWh',
    source:
      'simulator choice: totalizer reading at start; near 2^32 kWh so a month of demo data contains one roll-over',
  },
  initialTicketNo: {
    value: 260_000,
    unit: 'ticket',
    source: 'simulator choice: ladle ticket number before the first simulated tap',
  },
  ticketLogRecords: {
    value: 64,
    unit: 'tickets',
    source:
      '[practice] docs/domain.md §2: weighing terminals keep a ticket log; simulator choice: a ring of the last 64 tickets (about 5 h of tapping)',
  },
} as const satisfies Record<string, ParameterInfo>;

/** Names of the model parameters. */
export type AluminiumParamName = keyof typeof ALUMINIUM_PARAMETERS;

/** Parameter values of one model, in the units of {@link ALUMINIUM_PARAMETERS}. */
export type AluminiumParams = { [K in AluminiumParamName]: number };

/** The defaults of {@link ALUMINIUM_PARAMETERS} as plain values. */
export const ALUMINIUM_DEFAULTS: Readonly<AluminiumParams> = Object.freeze(
  Object.fromEntries(Object.entries(ALUMINIUM_PARAMETERS).map(([k, v]) => [k, v.value])) as AluminiumParams,
);

/** Options of {@link AluminiumSmelterModel}. */
export interface AluminiumModelOptions {
  /** Seed of every random draw (reduced to a uint32). */
  seed: number;
  /** Virtual time of tick 0, ms since the Unix epoch. */
  start: number;
  /** Overrides of {@link ALUMINIUM_DEFAULTS}. */
  params?: Partial<AluminiumParams>;
}

/** An anode effect in progress on one cell. */
export interface AnodeEffect {
  /** Cell number, 1-based within the line. */
  cell: number;
  /** Tick at which it started (it counts from that tick on). */
  startTick: number;
  /** First tick at which it is over. */
  endTick: number;
  /** Cell voltage during the effect, V. */
  voltageV: number;
}

/** A ladle weighing ticket. Masses in whole kg, `time` in whole seconds since the Unix epoch. */
export interface LadleTicket {
  ticketNo: number;
  time: number;
  grossKg: number;
  tareKg: number;
  netKg: number;
  /** Ladle number, 1…ladleFleet (0 before the first tap). */
  ladleId: number;
  /** Cell tapped, 1-based (0 before the first tap). */
  cellNo: number;
}

/** What the stations show at one instant. All numbers are engineering values before register encoding. */
export interface AluminiumSnapshot {
  /** Virtual time of the last whole tick applied, ms since the epoch. */
  time: number;
  /** Ticks (seconds) since `start`. */
  tick: number;
  potline: {
    /** Line current, kA. */
    currentKA: number;
    /** Total line voltage over all cells, V. */
    lineVoltageV: number;
    /** Cells in series in the line. */
    cellsInLine: number;
    /** Voltage of the monitored cells 1…monitoredCells, V. */
    cellVoltagesV: number[];
    /** The same in whole mV, clamped to 0…65535 (what the uint16 registers hold). */
    cellVoltagesMV: number[];
    /** Anode effects started since start, whole line (cumulative). */
    anodeEffectCount: number;
    /** Cell-seconds spent in anode effect since start, whole line (cumulative, includes running ones). */
    anodeEffectSeconds: number;
    /** Anode effects running now. */
    activeAnodeEffects: number;
  };
  energy: {
    /** Instantaneous DC power of the line, kW (= kA × V). */
    powerKW: number;
    /** Energy since start, whole Wh (exact, never rolls over). */
    energyWh: number;
    /** Totalizer reading in whole kWh as the meter shows it: (initial + energy) mod 2^32. */
    totalizerKWh: number;
  };
  /** The last ticket (all zero but `ticketNo` before the first tap) and the station's net total. */
  ladle: LadleTicket & {
    /** Net weight of every ticket since start, kg (the weighing station's own totalizer). */
    netTotalKg: number;
  };
  /**
   * The weighing terminal's ticket memory: the last `ticketLogRecords` tickets, ticket n in slot
   * n mod `ticketLogRecords` (undefined: never written). Older tickets are overwritten.
   */
  ladleLog: readonly (LadleTicket | undefined)[];
  anode: {
    /** New blocks set since start. */
    blocksSet: number;
    /** Weight of the last block set, kg. */
    lastBlockKg: number;
    /** Weight of the last butt returned, kg. */
    lastButtKg: number;
    /** Cumulative weight of the blocks set, kg. */
    setWeightTotalKg: number;
    /** Butts (残极) returned since start. */
    buttsReturned: number;
    /** Cumulative weight of the butts returned, kg. */
    buttWeightTotalKg: number;
  };
}

/** Exact cumulative totals since start, for tests and the evidence code to compare against readings. */
export interface AluminiumLedger {
  /** Metal produced by electrolysis (Faraday × current efficiency), kg; includes metal still in the cells. */
  producedKg: number;
  /** Metal tapped and weighed, kg (sum of ticket net weights, an integer). */
  tappedKg: number;
  /** Tickets issued. */
  tickets: number;
  /** New anode weight set, kg (integer). */
  anodeSetKg: number;
  /** Butt weight returned, kg (integer). */
  anodeButtKg: number;
  /** Net anode consumption = set − butts, kg (integer). */
  anodeNetKg: number;
  /** DC energy, Wh (integer). */
  energyWh: number;
  /** Anode effects started. */
  anodeEffectCount: number;
  /** Anode effects finished. */
  anodeEffectsCompleted: number;
  /** Cell-seconds of anode effect, including running ones. */
  anodeEffectSeconds: number;
  /** Cell-seconds of the finished anode effects only. */
  completedAnodeEffectSeconds: number;
}

const TICK_MS = 1000;
const UINT32 = 4294967296;

function checkParams(p: AluminiumParams): void {
  for (const [k, v] of Object.entries(p))
    if (!Number.isFinite(v)) throw new RangeError(`aluminium model: parameter ${k} must be finite, got ${v}`);
  const positive: AluminiumParamName[] = [
    'lineCurrentKA',
    'currentWanderTauS',
    'cellsInLine',
    'cellVoltageV',
    'anodeEffectMedianS',
    'faradayKgPerKAh',
    'currentEfficiency',
    'ladleNetMeanKg',
    'ladleNetMinKg',
    'ladleFleet',
    'anodeBlockKg',
    'netAnodePerTonAl',
  ];
  for (const k of positive)
    if (!(p[k] > 0)) throw new RangeError(`aluminium model: ${k} must be > 0, got ${p[k]}`);
  if (
    !Number.isInteger(p.cellsInLine) ||
    !Number.isInteger(p.monitoredCells) ||
    !Number.isInteger(p.ladleFleet)
  )
    throw new RangeError('aluminium model: cellsInLine, monitoredCells and ladleFleet must be integers');
  if (p.monitoredCells < 0 || p.monitoredCells > p.cellsInLine)
    throw new RangeError(`aluminium model: monitoredCells must be 0…cellsInLine, got ${p.monitoredCells}`);
  if (p.ladleNetMaxKg < p.ladleNetMinKg)
    throw new RangeError('aluminium model: ladleNetMaxKg < ladleNetMinKg');
  if (p.anodeEffectMaxS < p.anodeEffectMinS || p.anodeEffectMinS < 1)
    throw new RangeError('aluminium model: need 1 <= anodeEffectMinS <= anodeEffectMaxS');
  if (p.anodeEffectMaxV < p.anodeEffectMinV)
    throw new RangeError('aluminium model: anodeEffectMaxV < anodeEffectMinV');
  if (!(p.buttFraction > 0 && p.buttFraction < 1))
    throw new RangeError('aluminium model: buttFraction must be in (0, 1)');
  if (p.anodeEffectsPerCellDay < 0)
    throw new RangeError('aluminium model: anodeEffectsPerCellDay must be >= 0');
  if (!Number.isInteger(p.initialEnergyKWh) || p.initialEnergyKWh < 0 || p.initialEnergyKWh >= UINT32)
    throw new RangeError('aluminium model: initialEnergyKWh must be an integer in [0, 2^32)');
  if (!Number.isInteger(p.initialTicketNo) || p.initialTicketNo < 0)
    throw new RangeError('aluminium model: initialTicketNo must be a non-negative integer');
  if (!Number.isInteger(p.ticketLogRecords) || p.ticketLogRecords < 1 || p.ticketLogRecords > 4096)
    throw new RangeError('aluminium model: ticketLogRecords must be an integer in 1…4096');
}

/** Keys of the counter-based noise streams (second key after the seed). */
const STREAM_CELL = 1;
const STREAM_CELL_AE = 2;

/**
 * The smelter. Construct with a seed and a start instant, then call {@link advanceTo} with the
 * clock's time before reading {@link snapshot}. Deterministic; performs no I/O.
 *
 * @example
 * const m = new AluminiumSmelterModel({ seed: 1, start: Date.UTC(2026, 0, 1) - 8 * 3600_000 });
 * m.advanceTo(m.start + 86_400_000); // one virtual day
 * m.snapshot().ladle.netKg;          // last ladle net weight, kg
 */
export class AluminiumSmelterModel {
  /** Parameters in use (defaults merged with overrides). */
  readonly params: Readonly<AluminiumParams>;
  /** Seed as given, reduced to a uint32. */
  readonly seed: number;
  /** Virtual time of tick 0, ms since the epoch. */
  readonly start: number;

  readonly #rng: Prng;
  readonly #cellBiasV: number[];
  readonly #ladleTareKg: number[];
  /** Per-tick persistence of the current drift: exp(−1 s / τ). */
  readonly #driftPhi: number;
  readonly #driftInnovationSd: number;
  /** Mean seconds between anode effects on the whole line; Infinity when the rate is 0. */
  readonly #aeMeanIntervalS: number;
  /** Metal per tick per kA, kg. */
  readonly #kgPerKATick: number;

  #tick = 0;
  /** Fault controls: a line-current set-point other than the parameter's; cells whose voltage sensor failed. */
  #setpointKA: number | undefined;
  readonly #failedCells = new Set<number>();
  #driftKA = 0;
  #currentKA: number;
  #lineVoltageV: number;
  #powerKW: number;
  #energyWh = 0;
  #energyFracWh = 0;
  #active: AnodeEffect[] = [];
  #nextAeAtS: number;
  #aeCount = 0;
  #aeCompleted = 0;
  #aeSeconds = 0;
  #aeCompletedSeconds = 0;
  #producedKg = 0;
  #poolKg = 0;
  #plannedNetKg: number;
  #tappedKg = 0;
  #tickets = 0;
  #ticket: LadleTicket;
  /** Ticket memory, slot = ticket number mod size; tickets are never mutated, only replaced. */
  readonly #ticketLog: (LadleTicket | undefined)[];
  #demandKg = 0;
  #plannedBlock: { newKg: number; buttKg: number };
  #blocksSet = 0;
  #lastBlockKg = 0;
  #lastButtKg = 0;
  #setKg = 0;
  #buttKg = 0;

  constructor(options: AluminiumModelOptions) {
    const p: AluminiumParams = { ...ALUMINIUM_DEFAULTS, ...options.params };
    checkParams(p);
    if (!Number.isFinite(options.start))
      throw new RangeError('aluminium model: start must be a finite ms epoch');
    this.params = Object.freeze(p);
    this.seed = options.seed >>> 0;
    this.start = options.start;
    this.#rng = new Prng(this.seed);
    const rng = this.#rng;
    // Fixed per-cell offsets, bounded so normal operation stays inside 3.8–4.6 V (docs/domain.md §5).
    this.#cellBiasV = Array.from({ length: p.monitoredCells }, () =>
      clamp(rng.normal(0, p.cellVoltageSpreadV), -3 * p.cellVoltageSpreadV, 3 * p.cellVoltageSpreadV),
    );
    this.#ladleTareKg = Array.from({ length: p.ladleFleet }, () =>
      Math.round(rng.normal(p.ladleTareMeanKg, p.ladleTareSpreadKg)),
    );
    this.#driftPhi = Math.exp(-1 / p.currentWanderTauS);
    this.#driftInnovationSd = p.currentWanderKA * Math.sqrt(1 - this.#driftPhi * this.#driftPhi);
    const perSecond = (p.cellsInLine * p.anodeEffectsPerCellDay) / 86_400;
    this.#aeMeanIntervalS = perSecond > 0 ? 1 / perSecond : Number.POSITIVE_INFINITY;
    this.#nextAeAtS = perSecond > 0 ? rng.exponential(this.#aeMeanIntervalS) : Number.POSITIVE_INFINITY;
    this.#kgPerKATick = (p.faradayKgPerKAh * p.currentEfficiency * p.cellsInLine) / 3600;
    this.#plannedNetKg = this.#drawNetKg();
    this.#plannedBlock = this.#drawBlock();
    this.#ticket = {
      ticketNo: p.initialTicketNo,
      time: 0,
      grossKg: 0,
      tareKg: 0,
      netKg: 0,
      ladleId: 0,
      cellNo: 0,
    };
    this.#ticketLog = new Array<LadleTicket | undefined>(p.ticketLogRecords).fill(undefined);
    this.#currentKA = p.lineCurrentKA;
    this.#lineVoltageV = p.cellsInLine * p.cellVoltageV;
    this.#powerKW = this.#currentKA * this.#lineVoltageV;
  }

  /** Ticks (virtual seconds) applied since `start`. */
  get tick(): number {
    return this.#tick;
  }

  /** Virtual time of the last tick applied, ms since the epoch (`start + tick × 1000`). */
  get time(): number {
    return this.start + this.#tick * TICK_MS;
  }

  /**
   * Runs every whole 1-second tick whose end lies at or before `ms` (ms since the epoch). Times
   * before the current state are ignored: the model never goes back.
   */
  advanceTo(ms: number): void {
    const target = Math.floor((ms - this.start) / TICK_MS);
    while (this.#tick < target) this.#step();
  }

  /** One second of plant time. The order of the draws is part of the determinism contract. */
  #step(): void {
    const p = this.params;
    const rng = this.#rng;
    const n = ++this.#tick;

    // Line current: regulated set-point + slow AR(1) drift + transducer noise.
    this.#driftKA = this.#driftPhi * this.#driftKA + rng.normal(0, this.#driftInnovationSd);
    const currentKA = (this.#setpointKA ?? p.lineCurrentKA) + this.#driftKA + rng.normal(0, p.currentNoiseKA);
    this.#currentKA = currentKA;

    // Anode effects: finished ones leave, then Poisson arrivals on random cells of the whole line.
    if (this.#active.length > 0) {
      const still: AnodeEffect[] = [];
      for (const ae of this.#active) {
        if (ae.endTick <= n) {
          this.#aeCompleted++;
          this.#aeCompletedSeconds += ae.endTick - ae.startTick;
        } else still.push(ae);
      }
      this.#active = still;
    }
    while (this.#nextAeAtS <= n) {
      this.#startAnodeEffect(n);
      this.#nextAeAtS += rng.exponential(this.#aeMeanIntervalS);
    }
    this.#aeSeconds += this.#active.length;

    // Line voltage: all cells at the normal voltage (which follows the current through the cell
    // resistance), plus the excess of the cells in anode effect.
    const normalCellV = p.cellVoltageV + p.cellSlopeVPerKA * (currentKA - p.lineCurrentKA);
    let lineV = p.cellsInLine * normalCellV + rng.normal(0, p.lineVoltageNoiseV);
    for (const ae of this.#active) lineV += ae.voltageV - normalCellV;
    this.#lineVoltageV = lineV;

    // DC energy: kA × V = kW; one second = kW / 3.6 Wh. Whole Wh accumulate exactly, the fraction carries.
    this.#powerKW = currentKA * lineV;
    this.#energyFracWh += this.#powerKW / 3.6;
    const whole = Math.floor(this.#energyFracWh);
    this.#energyWh += whole;
    this.#energyFracWh -= whole;

    // Metal: Faraday's law × current efficiency × cells; tapped into a ladle once enough has built up.
    const kg = this.#kgPerKATick * currentKA;
    this.#producedKg += kg;
    this.#poolKg += kg;
    if (this.#poolKg >= this.#plannedNetKg) this.#tap(n);

    // Anodes: consumption follows the metal made; a block is set when the consumed carbon covers it.
    this.#demandKg += kg * p.netAnodePerTonAl;
    const block = this.#plannedBlock;
    if (this.#demandKg >= block.newKg - block.buttKg) this.#setBlock();
  }

  #startAnodeEffect(n: number): void {
    const p = this.params;
    const rng = this.#rng;
    let cell = rng.int(1, p.cellsInLine);
    // A cell already in anode effect cannot start another; take the next free one (there always is one).
    for (let i = 0; i < p.cellsInLine && this.#active.some((a) => a.cell === cell); i++)
      cell = (cell % p.cellsInLine) + 1;
    const seconds = Math.round(
      clamp(
        Math.exp(Math.log(p.anodeEffectMedianS) + rng.normal(0, p.anodeEffectSigmaLn)),
        p.anodeEffectMinS,
        p.anodeEffectMaxS,
      ),
    );
    const voltageV = rng.uniform(p.anodeEffectMinV, p.anodeEffectMaxV);
    if (this.#active.some((a) => a.cell === cell)) return; // every cell already in anode effect
    this.#active.push({ cell, startTick: n, endTick: n + seconds, voltageV });
    this.#aeCount++;
  }

  #drawNetKg(): number {
    const p = this.params;
    return Math.round(
      clamp(this.#rng.normal(p.ladleNetMeanKg, p.ladleNetSdKg), p.ladleNetMinKg, p.ladleNetMaxKg),
    );
  }

  #tap(n: number): void {
    const p = this.params;
    const rng = this.#rng;
    const netKg = this.#plannedNetKg;
    const ladleId = rng.int(1, p.ladleFleet);
    const tareKg = Math.max(
      0,
      (this.#ladleTareKg[ladleId - 1] ?? p.ladleTareMeanKg) + Math.round(rng.normal(0, p.ladleCrustSdKg)),
    );
    const cellNo = rng.int(1, p.cellsInLine);
    this.#poolKg -= netKg;
    this.#tappedKg += netKg;
    this.#tickets++;
    this.#ticket = {
      ticketNo: p.initialTicketNo + this.#tickets,
      time: Math.floor((this.start + n * TICK_MS) / 1000),
      grossKg: tareKg + netKg,
      tareKg,
      netKg,
      ladleId,
      cellNo,
    };
    this.#ticketLog[this.#ticket.ticketNo % p.ticketLogRecords] = this.#ticket;
    this.#plannedNetKg = this.#drawNetKg();
  }

  #drawBlock(): { newKg: number; buttKg: number } {
    const p = this.params;
    const newKg = Math.round(this.#rng.normal(p.anodeBlockKg, p.anodeBlockSdKg));
    const fraction = clamp(this.#rng.normal(p.buttFraction, p.buttFractionSd), 0.05, 0.5);
    return { newKg, buttKg: Math.round(newKg * fraction) };
  }

  #setBlock(): void {
    const { newKg, buttKg } = this.#plannedBlock;
    // Setting a new block removes the butt of the block it replaces: one of each per operation.
    this.#demandKg -= newKg - buttKg;
    this.#blocksSet++;
    this.#lastBlockKg = newKg;
    this.#lastButtKg = buttKg;
    this.#setKg += newKg;
    this.#buttKg += buttKg;
    this.#plannedBlock = this.#drawBlock();
  }

  /**
   * Fault control: the rectifiers regulate the line to `kA` from the next tick (a set-point step, or a
   * line-current excursion outside 350–500 kA); `undefined` returns to the parameter `lineCurrentKA`.
   * Trips AL-TH-002 (rate of change) and, outside the band, AL-TH-001. Draws no extra random numbers.
   */
  setLineCurrent(kA: number | undefined): void {
    if (kA !== undefined && !(Number.isFinite(kA) && kA >= 0))
      throw new RangeError(`aluminium model: line current must be a finite kA >= 0, got ${kA}`);
    this.#setpointKA = kA;
  }

  /**
   * Fault control: the voltage sensor of monitored cell `cell` (1-based) fails open (its register reads
   * 65535 mV) or, with `failed` false, is repaired. Trips AL-TE-002 (theoretical extreme, 60 V).
   */
  failCellSensor(cell: number, failed = true): void {
    if (!Number.isInteger(cell) || cell < 1 || cell > this.params.monitoredCells)
      throw new RangeError(`aluminium model: cell must be 1…${this.params.monitoredCells}, got ${cell}`);
    if (failed) this.#failedCells.add(cell);
    else this.#failedCells.delete(cell);
  }

  /** Anode effects running now (copies). */
  activeAnodeEffects(): AnodeEffect[] {
    return this.#active.map((a) => ({ ...a }));
  }

  /**
   * Voltage of monitored cell `cell` (1-based) at the current tick, V. Normal cells: set-point + the
   * cell's fixed offset + the current-dependent part + noise; a cell in anode effect shows its effect voltage.
   */
  cellVoltageV(cell: number): number {
    const p = this.params;
    const ae = this.#active.find((a) => a.cell === cell);
    if (ae) return ae.voltageV + 0.3 * hashNormal(this.seed, STREAM_CELL_AE, this.#tick, cell);
    const bias = this.#cellBiasV[cell - 1] ?? 0;
    return (
      p.cellVoltageV +
      bias +
      p.cellSlopeVPerKA * (this.#currentKA - p.lineCurrentKA) +
      p.cellVoltageNoiseV * hashNormal(this.seed, STREAM_CELL, this.#tick, cell)
    );
  }

  /** What every station shows now (after the last {@link advanceTo}). Reading consumes no random draws. */
  snapshot(): AluminiumSnapshot {
    const p = this.params;
    const cellVoltagesV = Array.from({ length: p.monitoredCells }, (_, i) => this.cellVoltageV(i + 1));
    return {
      time: this.time,
      tick: this.#tick,
      potline: {
        currentKA: this.#currentKA,
        lineVoltageV: this.#lineVoltageV,
        cellsInLine: p.cellsInLine,
        cellVoltagesV,
        // A failed sensor (open input) reads full scale, 65535 mV: the 65.535 V of issue 18.
        cellVoltagesMV: cellVoltagesV.map((v, i) =>
          this.#failedCells.has(i + 1) ? 65535 : clamp(Math.round(v * 1000), 0, 65535),
        ),
        anodeEffectCount: this.#aeCount,
        anodeEffectSeconds: this.#aeSeconds,
        activeAnodeEffects: this.#active.length,
      },
      energy: {
        powerKW: this.#powerKW,
        energyWh: this.#energyWh,
        totalizerKWh: (p.initialEnergyKWh + Math.floor(this.#energyWh / 1000)) % UINT32,
      },
      ladle: { ...this.#ticket, netTotalKg: this.#tappedKg },
      ladleLog: [...this.#ticketLog],
      anode: {
        blocksSet: this.#blocksSet,
        lastBlockKg: this.#lastBlockKg,
        lastButtKg: this.#lastButtKg,
        setWeightTotalKg: this.#setKg,
        buttsReturned: this.#blocksSet,
        buttWeightTotalKg: this.#buttKg,
      },
    };
  }

  /** Exact cumulative totals since start. */
  ledger(): AluminiumLedger {
    return {
      producedKg: this.#producedKg,
      tappedKg: this.#tappedKg,
      tickets: this.#tickets,
      anodeSetKg: this.#setKg,
      anodeButtKg: this.#buttKg,
      anodeNetKg: this.#setKg - this.#buttKg,
      energyWh: this.#energyWh,
      anodeEffectCount: this.#aeCount,
      anodeEffectsCompleted: this.#aeCompleted,
      anodeEffectSeconds: this.#aeSeconds,
      completedAnodeEffectSeconds: this.#aeCompletedSeconds,
    };
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(Math.max(v, min), max);
}
