/**
 * Small seeded pseudo-random number generators for the simulators. Pure: no I/O, no global state,
 * no `Math.random`, so a simulator's output is a function of its seed.
 *
 * Two kinds:
 * - {@link Prng}, a sequential generator (sfc32, Chris Doty-Humphrey's "Small Fast Counting" generator
 *   from PractRand, 128-bit state, passes PractRand/BigCrush) seeded through splitmix32;
 * - {@link hashUniform} / {@link hashNormal}, counter-based draws keyed by integers (e.g. seed, tick, cell),
 *   for white noise that is only needed at the instant it is read and must not depend on how often
 *   it is read.
 */

/** splitmix32 step (Steele, Lea & Flood 2014, 32-bit variant): a well-mixed uint32 from any uint32. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** 2^-32: maps a uint32 into [0, 1). */
const INV_2_32 = 1 / 4294967296;

/**
 * Sequential seeded generator (sfc32). Same seed ⇒ same sequence on every platform (only 32-bit integer
 * arithmetic is used for the state; floats are derived from it).
 */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param seed any number; it is reduced to a uint32 (`seed >>> 0`) and expanded with splitmix32. */
  constructor(seed: number) {
    const s = seed >>> 0;
    this.#a = mix32(s);
    this.#b = mix32(this.#a ^ 0x6a09e667);
    this.#c = mix32(this.#b ^ 0xbb67ae85);
    this.#d = 1;
    // Discard the first outputs, as the sfc32 author recommends, so close seeds diverge.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Next raw output, a uint32 in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [min, max) (default [0, 1)); 32 bits of randomness. */
  uniform(min = 0, max = 1): number {
    return min + (max - min) * this.nextUint32() * INV_2_32;
  }

  /** Normal (Gaussian) draw with the given mean and standard deviation (Box–Muller, no cached spare). */
  normal(mean = 0, sd = 1): number {
    return mean + sd * boxMuller(this.nextUint32(), this.nextUint32());
  }

  /** Uniform integer in [min, max], both inclusive. @throws RangeError when max < min or either is not an integer */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min)
      throw new RangeError(`Prng.int: need integers min <= max, got ${min}, ${max}`);
    return min + Math.floor(this.uniform() * (max - min + 1));
  }

  /** Exponential draw with the given mean (inter-arrival time of a Poisson process with rate 1/mean). */
  exponential(mean: number): number {
    // 1 - u lies in (0, 1], so the log is finite.
    return -mean * Math.log(1 - this.uniform());
  }
}

/** Standard normal from two uint32s (Box–Muller). */
function boxMuller(x: number, y: number): number {
  const u1 = (x + 1) * INV_2_32; // (0, 1]: log is finite
  const u2 = y * INV_2_32;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Hash of a list of integers (each reduced to uint32) into a uint32; order matters. */
export function hash32(...keys: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const k of keys) h = mix32((h ^ mix32(k >>> 0)) >>> 0);
  return h;
}

/** Counter-based uniform in [0, 1) keyed by integers, e.g. `hashUniform(seed, tick, cell)`. */
export function hashUniform(...keys: readonly number[]): number {
  return hash32(...keys) * INV_2_32;
}

/** Counter-based standard normal (mean 0, sd 1) keyed by integers, e.g. `hashNormal(seed, tick, cell)`. */
export function hashNormal(...keys: readonly number[]): number {
  const h = hash32(...keys);
  return boxMuller(h, mix32(h ^ 0x5bd1e995));
}
