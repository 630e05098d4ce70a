/**
 * The `opcua` driver kind as registered in drivers/registry.ts. It imports only the config schema;
 * node-opcua (and driver.ts) is loaded on the first `start()` (see load.ts), so loading a site file
 * stays fast for Modbus-only gateways and `mrv check-config`.
 */
import type { Driver, DriverContext, DriverKind, DriverStatus, ReadingSink } from '../types.ts';
import { OpcuaDevice } from './config.ts';
import { quietImport } from './load.ts';

/** A driver whose implementation ({@link ./driver.ts OpcuaDriver}) is imported on `start`. */
class LazyOpcuaDriver implements Driver {
  /** The running (or last stopped, so that `status()` keeps its counters) implementation. */
  #inner: Driver | undefined;
  #running = false;
  constructor(
    readonly config: OpcuaDevice,
    private readonly ctx: DriverContext,
  ) {}

  async start(sink: ReadingSink): Promise<void> {
    if (this.#running) throw new Error(`device ${this.config.id}: already started`);
    this.#running = true;
    const { OpcuaDriver } = await quietImport(() => import('./driver.ts'));
    this.#inner = new OpcuaDriver(this.config, this.ctx);
    await this.#inner.start(sink);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#inner?.stop();
  }

  status(): DriverStatus {
    return this.#inner?.status() ?? { connected: false, cycles: 0, failedRequests: 0 };
  }
}

/** The `opcua` driver kind: config schema {@link OpcuaDevice}, factory without I/O. */
export const opcuaDriver: DriverKind<OpcuaDevice> = {
  name: 'opcua',
  schema: OpcuaDevice,
  create: (config, context) => new LazyOpcuaDriver(config, context),
};
