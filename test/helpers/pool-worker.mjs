// tsx launcher of test/helpers/pool-worker.ts (a worker thread does not inherit the loader hooks).
import { register } from 'tsx/esm/api';

register();
await import('./pool-worker.ts');
