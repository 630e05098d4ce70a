// Launcher of the evidence worker thread when the code runs as TypeScript (development, tests): a
// worker thread does not inherit its parent's loader hooks, so tsx is registered here before the
// worker module is imported. The compiled release runs evidence-worker.js directly (evidence/worker-pool.ts
// `workerEntry`).
import { register } from 'tsx/esm/api';

register();
await import('./evidence-worker.ts');
