/** The carbon-accounting core (docs/architecture.md §7): pure logic, no I/O. */
export * from './aggregate.ts';
export * from './calibration.ts';
export * from './catalogue.ts';
export * from './completeness.ts';
export * from './decimal.ts';
export * from './emissions.ts';
export * from './evidence.ts';
export * from './factors.ts';
export * from './parameter-check.ts';
export * from './period.ts';
export * from './raw-batches.ts';
export * from './render.ts';
export * from './rules.ts';
