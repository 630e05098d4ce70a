// The findings workflow's state machine (server/state/finding-workflow.ts): every state × action × role.
import { describe, expect, it } from 'vitest';
import { MrvError } from '../../../core/errors.ts';
import {
  allowedActions,
  nextState,
  SHOWN_STATES,
  shownState,
  WORKFLOW_ACTIONS,
} from '../../../server/state/finding-workflow.ts';
import { ROLES } from '../../../server/tokens.ts';

function outcome(fn: () => unknown): string {
  try {
    return String(fn());
  } catch (err) {
    return (err as MrvError).code;
  }
}

describe('finding workflow', () => {
  it('moves open → acknowledged → explained → closed → open, each by its role', () => {
    expect(nextState('open', 'acknowledge', 'enterprise')).toBe('acknowledged');
    expect(nextState('open', 'explain', 'enterprise')).toBe('explained');
    expect(nextState('acknowledged', 'explain', 'enterprise')).toBe('explained');
    expect(nextState('explained', 'close', 'regulator')).toBe('closed');
    expect(nextState('explained', 'reopen', 'regulator')).toBe('open');
    expect(nextState('closed', 'reopen', 'regulator')).toBe('open');
  });

  it('answers MRV_E_FORBIDDEN for a wrong role and MRV_E_FINDING_TRANSITION for a wrong state, and allowedActions agrees', () => {
    let allowed = 0;
    for (const state of SHOWN_STATES)
      for (const action of WORKFLOW_ACTIONS)
        for (const role of ROLES) {
          const got = outcome(() => nextState(state, action, role));
          const listed = allowedActions(state, role).includes(action);
          expect(listed, `${state} ${action} ${role}`).toBe(!got.startsWith('MRV_E_'));
          if (listed) allowed++;
          else expect(['MRV_E_FORBIDDEN', 'MRV_E_FINDING_TRANSITION']).toContain(got);
        }
    // enterprise: 3 (ack from open, explain from open/acknowledged); regulator: 3; admin: 6; metrologist: 0.
    expect(allowed).toBe(12);
    expect(ROLES).toContain('metrologist');
    for (const state of SHOWN_STATES) expect(allowedActions(state, 'metrologist')).toEqual([]);
    expect(outcome(() => nextState('open', 'explain', 'metrologist'))).toBe('MRV_E_FORBIDDEN');
    expect(outcome(() => nextState('open', 'close', 'enterprise'))).toBe('MRV_E_FORBIDDEN');
    expect(outcome(() => nextState('open', 'close', 'regulator'))).toBe('MRV_E_FINDING_TRANSITION');
    expect(new MrvError('MRV_E_FINDING_TRANSITION', 'x').httpStatus).toBe(409);
  });

  it('a producer-resolved finding shows resolved unless closed, and takes no action', () => {
    expect(shownState('acknowledged', 'resolved')).toBe('resolved');
    expect(shownState('closed', 'resolved')).toBe('closed');
    expect(shownState('explained', 'open')).toBe('explained');
    for (const role of ROLES) expect(allowedActions('resolved', role)).toEqual([]);
    expect(outcome(() => nextState('resolved', 'acknowledge', 'admin'))).toBe('MRV_E_FINDING_TRANSITION');
  });
});
