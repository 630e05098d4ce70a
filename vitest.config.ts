import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers (InfluxDB, Mosquitto, Modbus simulators) on free ports;
    // two cores do not gain from more parallel files than this.
    maxWorkers: 2,
    pool: 'forks',
  },
});
