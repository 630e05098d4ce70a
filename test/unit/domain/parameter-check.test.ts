// `mrv check-config`'s parameter warnings (core/domain/parameter-check.ts, issue 18 item 5): ids the
// evidence would silently ignore, qualified parameters without their kind, parameters nobody feeds.
import { describe, expect, it } from 'vitest';
import { checkParameterIds } from '../../../core/domain/parameter-check.ts';

describe('checkParameterIds', () => {
  it('names unknown, other-industry and unqualified ids with what to write instead', () => {
    const w = checkParameterIds('cement', [
      { id: 'clinker.total', parameter: 'cement.clinker_outptu' },
      { id: 'slag.total', parameter: 'cement.substitue.steel_slag' },
      { id: 'anode.total', parameter: 'aluminium.anode_consumption' },
      { id: 'coal.total', parameter: 'cement.fuel_consumption' },
      { id: 'fly_ash.total', parameter: 'cement.substitute.fly_ash' },
      { id: 'kiln.temp' },
    ]);
    expect(w.map((x) => [x.code, x.point ?? x.parameter])).toEqual([
      ['unknown', 'clinker.total'],
      ['unknown', 'slag.total'],
      ['other_industry', 'anode.total'],
      ['unqualified', 'coal.total'],
      ['not_supplied', 'cement.clinker_output'],
    ]);
    expect(w[0]?.message).toContain('did you mean cement.clinker_output?');
    expect(w[1]?.message).toContain('did you mean cement.substitute?');
    expect(w[3]?.message).toContain('cement.fuel_consumption.coal');
  });

  it('is silent for a site that feeds every parameter an emission needs with qualified ids', () => {
    expect(
      checkParameterIds('cement', [
        { id: 'clinker.total', parameter: 'cement.clinker_output' },
        { id: 'fly_ash.total', parameter: 'cement.substitute.fly_ash' },
        { id: 'coal.total', parameter: 'cement.fuel_consumption.coal' },
      ]),
    ).toEqual([]);
  });
});
