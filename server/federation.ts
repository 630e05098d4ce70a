/**
 * What the routes of a federating server (`mrv server --federate`, collector/federated-store.ts) say
 * about a unit whose province store does not answer: `available: false` with the reason, on the unit
 * listing (`GET /api/v1/units`) and the overview (`GET /api/v1/summary`). A server over one store has
 * no federation: every unit it lists is available (a failing store fails the request with 503).
 */
import type { Federation } from '../collector/federated-store.ts';
import type { ListedUnit } from './auth.ts';

/** Whether a unit's data can be read now, and if not why. */
export interface UnitAvailability {
  available: boolean;
  /** Why not (the province store's error, or its province not being federated); null when available. */
  reason: string | null;
}

/**
 * The availability of a unit: always available without a federation; otherwise its province store's
 * state ({@link Federation.availability}), unavailable when its province is not federated.
 */
export function unitAvailability(
  federation: Federation | undefined,
  unit: Pick<ListedUnit, 'id' | 'province'>,
): UnitAvailability {
  if (!federation) return { available: true, reason: null };
  const province = federation.provinceOf(unit.id) ?? unit.province;
  const state = federation.availability(province);
  if (!state)
    return { available: false, reason: `province ${province} is not federated by this server (--federate)` };
  return state.available
    ? { available: true, reason: null }
    : { available: false, reason: `province ${province} store unavailable: ${state.reason ?? 'unknown'}` };
}

/**
 * The unit listing of a federating server: every unit with `available`, and `unavailableReason` when
 * false (its online state and newest data time are then unknown: `online: false`, `lastDataAt: null`).
 */
export function withAvailability(
  federation: Federation,
  units: ListedUnit[],
): (ListedUnit & { available: boolean; unavailableReason?: string })[] {
  return units.map((u) => {
    const a = unitAvailability(federation, u);
    return { ...u, available: a.available, ...(a.reason !== null ? { unavailableReason: a.reason } : {}) };
  });
}
