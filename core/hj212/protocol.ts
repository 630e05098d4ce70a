/**
 * HJ 212 constants in one place (docs/domain.md §4): protocol versions and their Flag bits, system codes
 * (ST), command codes (CN) and the pollutant/parameter codes we know for certain.
 *
 * Sources and standing:
 * - HJ 212-2017 《污染物在线监控（监测）系统数据传输标准》 — **[official]** for the frame, the CRC, the
 *   Flag layout (bits 7–2 version, bit 1 D packetised, bit 0 A acknowledgement wanted), version
 *   000001, the command codes below, ST 91 and the data flags. Clause numbers follow the 2017 text
 *   (§6.3 frame, §6.3.2 data segment, §6.6 codes, Annex A CRC).
 * - HJ 212-2025 replaces it from 2026-01-01 with new version bits, key management, electricity
 *   monitoring and a heartbeat (CN 9015). **[official status; details unconfirmed]**: the version
 *   bits 000010 below are what third-party 2025 implementations send (Flag 8/9), not checked against
 *   the official text. A site overrides them with `flagVersionBits` in its uplink file if its
 *   platform says otherwise.
 */

/** One protocol version we can speak. */
export interface Hj212Version {
  /** Name used in configuration files. */
  id: 'hj212-2017' | 'hj212-2025';
  /** The 6 version bits (Flag bits 7–2) as a number, e.g. 0b000001 for 2017. */
  versionBits: number;
  /** Where the value comes from and how sure we are. */
  source: string;
  /** `false` while the value is not checked against the official text. */
  confirmed: boolean;
}

/**
 * Version-specific constants, the only place they live. Overridable per uplink file
 * (`flagVersionBits`), never spread as literals through the code.
 */
export const HJ212_VERSIONS: Readonly<Record<Hj212Version['id'], Hj212Version>> = {
  'hj212-2017': {
    id: 'hj212-2017',
    versionBits: 0b000001,
    source: 'HJ 212-2017 §6.3.2 table 4, Flag: V5..V0 = 000001 (Flag 4, or 5 with A)',
    confirmed: true,
  },
  'hj212-2025': {
    id: 'hj212-2025',
    versionBits: 0b000010,
    source:
      'HJ 212-2025 (in force 2026-01-01): version bits 000010 as sent by third-party 2025 implementations (Flag 8, or 9 with A) — UNCONFIRMED against the official text (docs/domain.md §4)',
    confirmed: false,
  },
};

/** Flag bit 0: the sender wants an acknowledgement (A). HJ 212-2017 §6.3.2 table 4. */
export const FLAG_A = 0b01;
/** Flag bit 1: the message is split into packets and PNUM/PNO are present (D). HJ 212-2017 §6.3.2 table 4. */
export const FLAG_D = 0b10;

/**
 * Builds a Flag value: version bits in bits 7–2, D in bit 1, A in bit 0.
 * @example flagOf(0b000001, { ack: true }) → 5
 * @throws RangeError when `versionBits` is not 0..63
 */
export function flagOf(versionBits: number, opts: { ack?: boolean; packetised?: boolean } = {}): number {
  if (!Number.isInteger(versionBits) || versionBits < 0 || versionBits > 63)
    throw new RangeError(`HJ 212 version bits must be 0..63, got ${versionBits}`);
  return (versionBits << 2) | (opts.packetised ? FLAG_D : 0) | (opts.ack ? FLAG_A : 0);
}

/** The parts of a Flag value. */
export function parseFlag(flag: number): { versionBits: number; packetised: boolean; ack: boolean } {
  return { versionBits: flag >> 2, packetised: (flag & FLAG_D) !== 0, ack: (flag & FLAG_A) !== 0 };
}

/** Command codes (CN) we send or answer, HJ 212-2017 §6.6.5 table 9 (9015 heartbeat: 2025, unconfirmed). */
export const CN = {
  /** 实时数据 real-time data, `code-Rtd`, `code-Flag`. */
  realtime: '2011',
  /** 分钟数据 minute data, `code-Cou/Min/Avg/Max/Flag`, DataTime = interval start. */
  minute: '2051',
  /** 小时数据 hour data. */
  hour: '2061',
  /** 日数据 day data. */
  day: '2031',
  /** 数据应答 data acknowledgement (ST=91), QN = the acknowledged packet's QN. */
  dataAck: '9014',
  /** 心跳 heartbeat, HJ 212-2025 only — UNCONFIRMED (docs/domain.md §4). Not sent yet. */
  heartbeat2025: '9015',
} as const;

/** Data commands the uplink sends. */
export type DataCn = (typeof CN)['realtime' | 'minute' | 'hour' | 'day'];

/** System codes (ST), HJ 212-2017 §6.6.1 table 5 (those we use). */
export const ST = {
  /** 大气环境污染源: stack/flue-gas sources; our default for CO2 and plant data. */
  airPollutionSource: '31',
  /** 地表水体环境污染源 (the CRC test vector uses it). */
  surfaceWaterPollutionSource: '32',
  /** 系统交互: replies such as 9014. */
  systemInteraction: '91',
} as const;

/**
 * Pollutant/parameter codes we are sure of, with their source. Every other code (line current,
 * energy, ladle weights, …) has no code in the 2017 tables we could check: it is configured per point
 * in the uplink file as agreed with the platform operator, never guessed here.
 */
export const KNOWN_CODES: Readonly<Record<string, { name: string; unit: string; source: string }>> = {
  a05001: {
    name: '二氧化碳 CO2',
    unit: 'as configured (e.g. %, mg/m³, t)',
    source: 'HJ 212-2017 Annex B; docs/domain.md §4',
  },
};

/** What a pollutant/parameter code may look like in a CP field name (`code-Rtd`): no `-,;=&`. */
export const CODE_PATTERN = /^[A-Za-z0-9_]{1,20}$/;

/**
 * Largest data segment in bytes before a message is split into packets (HJ 212-2017 §6.3.1: the
 * data segment length is 0–1024). Configurable in the uplink file for platforms that say otherwise.
 */
export const DEFAULT_MAX_SEGMENT = 1024;
