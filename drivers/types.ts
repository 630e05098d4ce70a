/**
 * The driver contract (docs/architecture.md §10 rule 2). A driver turns a device's configuration into readings and
 * knows nothing of MQTT, storage or HTTP. Constructors (and `create`) do no I/O; `start` connects and
 * begins delivering, `stop` undoes everything `start` did.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Reading } from '../core/schema/wire.ts';
import type { Clock } from '../core/time.ts';

/** What a driver receives from its host. */
export interface DriverContext {
  clock: Clock;
  log: Logger;
  /**
   * The gateway's data folder, if it has one: drivers keep their state under it (the `opcua` driver
   * its PKI in `<dataDir>/opcua-pki` unless the device sets `pkiDir`). Absent: each driver's default.
   */
  dataDir?: string;
  /**
   * Present when the host keeps what the sink took in a durable log (the gateway with a `bufferDir`):
   * resolves once every reading handed to the sink so far is on disk (the log's group commit may
   * fsync a moment after the sink returned). A driver that keeps "already delivered" state on disk
   * (the Modbus event logs' last ticket number) writes it only after this; without it, it keeps such
   * state in memory only.
   */
  durable?: () => Promise<void>;
  /**
   * Longest wait for {@link durable}, ms of real time (an fsync takes wall-clock time whatever the
   * plant clock's speed); default 60 000. Tests of a log that never syncs pass a short one.
   */
  durableWaitMs?: number;
}

/**
 * Receives the readings of one poll cycle (or one subscription notification) of one device.
 * Every configured point is present in a poll cycle: as good with its value, or as bad with a reason.
 */
export type ReadingSink = (readings: Reading[]) => void;

/** Connection state and counters a driver exposes for status pages and metrics. */
export interface DriverStatus {
  connected: boolean;
  /** Completed poll cycles. */
  cycles: number;
  /**
   * Poll loops the driver runs (one per poll group); absent: one. A held plant clock (the demo) stands
   * until `cycles ≥ pollGroups` on every device, so that every group has read once at the start instant.
   */
  pollGroups?: number;
  /** Requests that failed after all retries. */
  failedRequests: number;
  /** Last error code and message, if the last cycle failed. */
  lastError?: string;
  /** When a request last succeeded (ms since the Unix epoch, driver clock); absent before the first. */
  lastSuccessAt?: number;
  /** Connections (sockets, serial port opens) made so far; for links shared by several devices, the link's count. */
  connects?: number;
  /** RTU line drains after a timeout, a rejected answer or stray bytes (link-wide, like `connects`). */
  drains?: number;
}

/** A running device connection. */
export interface Driver {
  start(sink: ReadingSink): Promise<void>;
  stop(): Promise<void>;
  status(): DriverStatus;
}

/** A driver kind: its config schema and its factory. */
export interface DriverKind<Config> {
  name: string;
  /** Validates one `devices[]` entry of the site file. */
  schema: z.ZodType<Config>;
  create(config: Config, context: DriverContext): Driver;
}
