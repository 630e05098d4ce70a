/**
 * The findings workflow (问题清单 → 整改) as a pure state machine (docs/architecture.md §8a).
 *
 * ```
 *   open ──acknowledge──> acknowledged ──explain──> explained ──close──> closed
 *     └──────────────explain──────────────────────────^   │  ^            │
 *                                    open <──reopen───────┘  └────────────┘ (reopen from closed too)
 * ```
 * - `acknowledge`, `explain`: the enterprise (its own units) or an admin;
 * - `close`, `reopen`: the regulator (within its scope) or an admin;
 * - a finding its producer resolved (`producerState: resolved`, e.g. a seq gap whose batches arrived
 *   late, collector/finding-lifecycle.ts) shows as `resolved` unless it was closed, and takes no action:
 *   it stays visible, resolved, with its history.
 * Counts of "open findings" count the states {@link OPEN_STATES} only.
 */
import { MrvError } from '../../core/errors.ts';
import type { Role } from '../tokens.ts';

/** Workflow states kept in the database. */
export const WORKFLOW_STATES = ['open', 'acknowledged', 'explained', 'closed'] as const;
export type WorkflowState = (typeof WORKFLOW_STATES)[number];

/** What a reader sees: a workflow state, or `resolved` for a producer-resolved finding not closed. */
export const SHOWN_STATES = [...WORKFLOW_STATES, 'resolved'] as const;
export type ShownState = (typeof SHOWN_STATES)[number];

/** States that still need someone to act: the overview's "open findings". */
export const OPEN_STATES: readonly ShownState[] = ['open', 'acknowledged', 'explained'];

/** The workflow's actions (the last path segment of `POST /api/v1/findings/{id}/{action}`). */
export const WORKFLOW_ACTIONS = ['acknowledge', 'explain', 'close', 'reopen'] as const;
export type WorkflowAction = (typeof WORKFLOW_ACTIONS)[number];

/** From which states each action goes where, and which roles may take it. */
export const TRANSITIONS: Record<
  WorkflowAction,
  { from: readonly WorkflowState[]; to: WorkflowState; roles: readonly Role[] }
> = {
  acknowledge: { from: ['open'], to: 'acknowledged', roles: ['enterprise', 'admin'] },
  explain: { from: ['open', 'acknowledged'], to: 'explained', roles: ['enterprise', 'admin'] },
  close: { from: ['explained'], to: 'closed', roles: ['regulator', 'admin'] },
  reopen: { from: ['explained', 'closed'], to: 'open', roles: ['regulator', 'admin'] },
};

/** The state a reader sees (see the file comment). */
export function shownState(state: WorkflowState, producerState: string): ShownState {
  return producerState === 'resolved' && state !== 'closed' ? 'resolved' : state;
}

/** The actions `role` may take on a finding in `shown` state (for the dashboard's buttons). */
export function allowedActions(shown: ShownState, role: Role): WorkflowAction[] {
  if (shown === 'resolved') return [];
  return WORKFLOW_ACTIONS.filter((a) => {
    const t = TRANSITIONS[a];
    return t.roles.includes(role) && (t.from as readonly string[]).includes(shown);
  });
}

/**
 * The state after `action`, or an error.
 * @throws MrvError `MRV_E_FORBIDDEN` when `role` may not take `action`; `MRV_E_FINDING_TRANSITION`
 *   (409) when the state does not allow it (a resolved finding allows none)
 */
export function nextState(shown: ShownState, action: WorkflowAction, role: Role): WorkflowState {
  const t = TRANSITIONS[action];
  if (!t.roles.includes(role))
    throw new MrvError('MRV_E_FORBIDDEN', `role ${role} may not ${action} a finding`, { action, role });
  if (shown === 'resolved' || !(t.from as readonly string[]).includes(shown)) {
    throw new MrvError(
      'MRV_E_FINDING_TRANSITION',
      shown === 'resolved'
        ? `the finding was resolved by its producer; it takes no ${action}`
        : `cannot ${action} a finding that is ${shown} (allowed from: ${t.from.join(', ')})`,
      { state: shown, action },
    );
  }
  return t.to;
}
