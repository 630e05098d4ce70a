/**
 * HJ 212 data flags (数据标记, HJ 212-2017 §6.6.4 table 8; docs/domain.md §4) derived from what we know of
 * a value: its quality and reason (core/schema/wire.ts), its meter's calibration state
 * (core/domain/calibration.ts) and plant states configured in the uplink file.
 *
 * The flags: N normal 正常, F stopped 停运, M maintenance 维护, S manual input 手工输入, D fault 故障,
 * C calibration 校准, T over the upper measuring limit 超测上限, B communication failure 通讯异常.
 *
 * Our mapping, first match wins (the order puts "no usable value" before "value with a caveat"):
 * 1. No reading at all in the interval → **B** (nothing reached us: the link to the meter failed).
 * 2. `bad` with a communication reason (`MRV_E_DEVICE_UNREACHABLE`, `MRV_E_MODBUS_TIMEOUT`,
 *    `MRV_E_OPCUA_SESSION/CERTIFICATE/IDENTITY`, OPC UA `Bad…Communication…`, `BadNotConnected`,
 *    `BadNoCommunication`, `BadTimeout`) → **B**.
 * 3. OPC UA `BadOutOfService` → **F**; any other `bad` (Modbus exception, decode error, sensor or
 *    device failure) → **D**.
 * 4. A configured plant window covering the time: `stopped` → **F**, `maintenance` → **M**,
 *    `calibration` (the meter being calibrated now) → **C**, `manual` → **S**.
 * 5. OPC UA `GoodLocalOverride` / `UncertainSubstituteValue` / `UncertainInitialValue` (an operator or
 *    substitute value) → **S**.
 * 6. Over range: OPC UA `UncertainEngineeringUnitsExceeded`, or a value above the point's configured
 *    `upperLimit` → **T**.
 * 7. The meter's verification/calibration certificate has lapsed (`expired`) or there is none
 *    (`missing`) → the configured `calibrationLapsedFlag`, default **C**. HJ 212 has no flag for
 *    "out of calibration"; C is the nearest (data the platform must not treat as valid measured data).
 *    A point without a meter counts as valid here (nothing to verify). This is our choice, not the
 *    standard's: a site sets `calibrationLapsedFlag: N` if its platform wants N.
 * 8. Otherwise (`good`, or `uncertain` without a reason above) → **N**.
 */
import type { Quality } from '../schema/wire.ts';

/** The HJ 212 data flags. */
export type DataFlag = 'N' | 'F' | 'M' | 'S' | 'D' | 'C' | 'T' | 'B';

/** Every data flag, for validation. */
export const DATA_FLAGS: readonly DataFlag[] = ['N', 'F', 'M', 'S', 'D', 'C', 'T', 'B'];

/** A configured plant state that overrides a normal value. */
export type PlantWindowKind = 'stopped' | 'maintenance' | 'calibration' | 'manual';

/** Calibration state of a meter at an instant (same values as core/domain/calibration.ts), or `none` for no meter. */
export type MeterCalibrationState = 'valid' | 'due_soon' | 'expired' | 'missing' | 'none';

/** What {@link deriveDataFlag} looks at. */
export interface FlagInput {
  /** Quality of the value sent (for an interval: `good` when it has good readings), `none` when there was no reading. */
  quality: Quality | 'none';
  /** The reading's reason (a stable code and detail), for bad or uncertain values. */
  reason?: string | undefined;
  /** The meter's calibration state at the value's time. */
  calibration?: MeterCalibrationState;
  /** A configured plant window covering the value's time. */
  window?: PlantWindowKind | undefined;
  /** True when the value (interval: its maximum) exceeds the point's configured upper limit. */
  overLimit?: boolean;
  /** Flag for a lapsed or missing certificate (rule 7); default `C`. */
  calibrationLapsedFlag?: DataFlag;
}

const COMMS =
  /MRV_E_DEVICE_UNREACHABLE|MRV_E_MODBUS_TIMEOUT|MRV_E_OPCUA_(SESSION|CERTIFICATE|IDENTITY)|Bad\w*Communication|BadNotConnected|BadNoCommunication|BadTimeout/;
const WINDOW_FLAG: Readonly<Record<PlantWindowKind, DataFlag>> = {
  stopped: 'F',
  maintenance: 'M',
  calibration: 'C',
  manual: 'S',
};

/** The data flag of one value, by the documented rules of this module (first match wins). */
export function deriveDataFlag(input: FlagInput): DataFlag {
  const reason = input.reason ?? '';
  if (input.quality === 'none') return 'B';
  if (input.quality === 'bad') {
    if (COMMS.test(reason)) return 'B';
    if (/BadOutOfService/.test(reason)) return 'F';
    return 'D';
  }
  if (input.window) return WINDOW_FLAG[input.window];
  if (/GoodLocalOverride|UncertainSubstituteValue|UncertainInitialValue/.test(reason)) return 'S';
  if (input.overLimit || /UncertainEngineeringUnitsExceeded/.test(reason)) return 'T';
  if (input.calibration === 'expired' || input.calibration === 'missing')
    return input.calibrationLapsedFlag ?? 'C';
  return 'N';
}
