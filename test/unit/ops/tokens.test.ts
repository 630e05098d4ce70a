// Token scopes as `mrv token create --scope` parses them, and who sees which unit.
import { describe, expect, it } from 'vitest';
import { canSeeUnit, parseScope, type Role } from '../../../server/tokens.ts';

describe('parseScope', () => {
  it('reads provinces and units for a regulator, one unit for an enterprise, nothing for an admin', () => {
    expect(parseScope('regulator', ['province:内蒙古,广东', 'unit:A'])).toEqual({
      provinces: ['内蒙古', '广东'],
      units: ['A'],
    });
    expect(parseScope('regulator', ['units:A,B', 'unit:A'])).toEqual({ provinces: [], units: ['A', 'B'] });
    expect(parseScope('enterprise', ['unit:A'])).toEqual({ provinces: [], units: ['A'] });
    expect(parseScope('metrologist', ['units:A,B'])).toEqual({ provinces: [], units: ['A', 'B'] });
    expect(parseScope('admin', [])).toEqual({ provinces: [], units: [] });
    expect(parseScope('admin', ['all'])).toEqual({ provinces: [], units: [] });
  });

  it.each([
    ['regulator', []],
    ['enterprise', ['units:A,B']],
    ['enterprise', ['province:广东']],
    ['admin', ['unit:A']],
    ['metrologist', []],
    ['metrologist', ['province:广东']],
    ['metrologist', ['unit:A', 'province:广东']],
    ['regulator', ['city:深圳']],
  ] as const)('refuses %s with %j (MRV_E_CONFIG)', (role, scope) => {
    expect(() => parseScope(role, [...scope])).toThrow(expect.objectContaining({ code: 'MRV_E_CONFIG' }));
  });
});

describe('canSeeUnit', () => {
  const p = (role: Role, provinces: string[], units: string[]) => ({
    tokenId: 'x',
    name: 'x',
    role,
    scope: { provinces, units },
  });
  it('admin sees all; regulator by province or unit; enterprise its unit; unknown province never matches', () => {
    expect(canSeeUnit(p('admin', [], []), 'A', undefined)).toBe(true);
    expect(canSeeUnit(p('regulator', ['广东'], []), 'A', '广东')).toBe(true);
    expect(canSeeUnit(p('regulator', ['广东'], []), 'A', '安徽')).toBe(false);
    expect(canSeeUnit(p('regulator', ['广东'], []), 'A', undefined)).toBe(false);
    expect(canSeeUnit(p('regulator', [], ['A']), 'A', undefined)).toBe(true);
    expect(canSeeUnit(p('enterprise', [], ['A']), 'B', '广东')).toBe(false);
    expect(canSeeUnit(p('metrologist', [], ['A', 'B']), 'B', '广东')).toBe(true);
    expect(canSeeUnit(p('metrologist', [], ['A']), 'C', '广东')).toBe(false);
  });
});
