/** The wire contract and site configuration schemas (docs/architecture.md §3, §4). */
export * from './canonical.ts';
export * from './delivery.ts';
export * from './finding.ts';
export * from './site.ts';
export * from './wire.ts';
