/**
 * The one contract every driver keeps (drivers/types.ts, docs/architecture.md §10 rules 1, 2 and 8), run against each
 * driver with its simulator by a per-driver test file (`*-contract.test.ts`):
 * - `create` does no I/O; `start` delivers batches; `stop` ends them and is idempotent;
 * - every configured point appears in every cycle of its poll group, good with an exact decimal value
 *   that matches the simulator, and every reading passes the wire schema;
 * - a device that times out or answers exceptions gives `bad` readings with a stable reason code and
 *   no value, and the driver recovers without a restart when the device does.
 */

import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Reading } from '../../core/schema/wire.ts';
import { systemClock } from '../../core/time.ts';
import type { DriverKind } from '../../drivers/types.ts';

/** A device under test: its site-file entry and the simulator's controls. */
export interface ContractDevice {
  /** The `devices[]` entry (validated with the kind's schema by the suite). */
  config: Record<string, unknown>;
  /** Exact value each point must read while the simulator's clock stands still. */
  expected: Record<string, string>;
  /** The device stops answering (until `clear`). */
  timeout(): void;
  /** The device answers every read with this exception code (until `clear`). */
  exception(code: number): void;
  clear(): void;
  /** Reason prefix of a timeout (e.g. MRV_E_MODBUS_TIMEOUT) and of an exception. */
  reasons: { timeout: string; exception: RegExp };
  stop(): Promise<void>;
}

const log = pino({ level: 'silent' });

/** Registers the contract suite for one driver kind. `setup` starts a fresh simulator per test. */
export function driverContract(
  // biome-ignore lint/suspicious/noExplicitAny: any driver kind (see drivers/registry.ts)
  kind: DriverKind<any>,
  setup: () => Promise<ContractDevice>,
): void {
  const withDevice = async (fn: (d: ContractDevice) => Promise<void>) => {
    const d = await setup();
    try {
      await fn(d);
    } finally {
      await d.stop();
    }
  };

  describe(`driver contract: ${kind.name}`, () => {
    it('validates its config with its own schema and rejects an unknown field', () =>
      withDevice(async (d) => {
        expect(kind.schema.safeParse(d.config).success).toBe(true);
        expect(kind.schema.safeParse({ ...d.config, nonsense: 1 }).success).toBe(false);
      }));

    it('does no I/O in create; start delivers every point exactly, per poll group; stop ends delivery', () =>
      withDevice(async (d) => {
        const config = kind.schema.parse(d.config);
        const driver = kind.create(config, { clock: systemClock, log });
        expect(driver.status()).toMatchObject({ connected: false, cycles: 0 });
        const batches: Reading[][] = [];
        await driver.start((readings) => batches.push(readings));
        const seen = () => new Set(batches.flat().map((r) => r.point));
        await expect.poll(() => seen().size, { timeout: 10_000 }).toBe(Object.keys(d.expected).length);
        await driver.stop();
        await driver.stop(); // idempotent
        const count = batches.length;
        await new Promise((r) => setTimeout(r, 300));
        expect(batches.length).toBe(count);
        expect(driver.status().connected).toBe(false);
        for (const batch of batches) {
          // One batch is one poll group's cycle: no point twice in it.
          expect(new Set(batch.map((r) => r.point)).size).toBe(batch.length);
          for (const r of batch) {
            expect(Reading.safeParse(r).success, JSON.stringify(r)).toBe(true);
            expect(r, r.point).toMatchObject({ quality: 'good', value: d.expected[r.point] });
          }
        }
        expect(driver.status().cycles).toBeGreaterThanOrEqual(1);
      }));

    it('turns a silent device into bad readings without values, then recovers', () =>
      withDevice(async (d) => {
        const driver = kind.create(kind.schema.parse(d.config), { clock: systemClock, log });
        const batches: Reading[][] = [];
        d.timeout();
        await driver.start((readings) => batches.push(readings));
        await expect.poll(() => batches.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
        for (const r of batches[0] ?? []) {
          expect(r.quality).toBe('bad');
          expect(r.value).toBeNull();
          expect(r.reason?.startsWith(d.reasons.timeout), r.reason).toBe(true);
        }
        expect(driver.status().failedRequests).toBeGreaterThanOrEqual(1);
        d.clear();
        const clearedAt = Date.now();
        const before = batches.length;
        await expect
          .poll(
            () => batches.slice(before).some((b) => b.length > 0 && b.every((r) => r.quality === 'good')),
            {
              timeout: 15_000,
            },
          )
          .toBe(true);
        // Metrics alert on this (mrv_device_last_success_timestamp_seconds): it follows the recovery.
        expect(driver.status().lastSuccessAt ?? 0).toBeGreaterThanOrEqual(clearedAt);
        await driver.stop();
      }));

    it('maps an exception answer to bad readings naming the exception code', () =>
      withDevice(async (d) => {
        const driver = kind.create(kind.schema.parse(d.config), { clock: systemClock, log });
        const batches: Reading[][] = [];
        d.exception(4);
        await driver.start((readings) => batches.push(readings));
        await expect.poll(() => batches.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
        await driver.stop();
        for (const r of batches[0] ?? []) {
          expect(r).toMatchObject({ quality: 'bad', value: null });
          expect(r.reason).toMatch(d.reasons.exception);
        }
      }));
  });
}
