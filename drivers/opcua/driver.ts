/**
 * The `opcua` driver: reads variables of one OPC UA server with node-opcua, by subscription
 * (monitored items with sampling interval, queue size and deadband, OPC 10000-4 §5.12) or by polling
 * (Read service, §5.10.2), and turns each DataValue into an exact reading with both timestamps and
 * a quality from its StatusCode (decode.ts).
 *
 * Lifecycle and recovery:
 * - `start` returns at once; a background loop connects, activates the session with the configured
 *   identity and sets up the subscription. A failed connect is reported as a `bad` reading of every
 *   point (reason `MRV_E_DEVICE_UNREACHABLE`, `MRV_E_OPCUA_CERTIFICATE`, `MRV_E_OPCUA_IDENTITY`, ...)
 *   and retried with exponential backoff up to `reconnectMaxDelayMs`.
 * - A broken connection (server stopped, network down) is reported once as `bad` for every point;
 *   node-opcua re-opens the channel and, when the server has restarted and lost our session,
 *   creates a new session and re-creates the subscription and its monitored items (OPC 10000-4 §6.7).
 *   A watchdog rebuilds the whole client if the subscription stays silent (no data, no keep-alive)
 *   for three keep-alive periods while the channel claims to be up.
 * - Subscription creation failing (server without subscriptions, too many) falls back to polling
 *   every point; a monitored item the server refuses (unknown node, unsupported deadband) is polled.
 * - `stop` ends the loop, deletes the subscription, closes the session and the channel.
 */
import {
  AttributeIds,
  type ClientMonitoredItemBase,
  type ClientSession,
  type ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  type DataValue,
  DeadbandType,
  type MonitoringParametersOptions,
  type OPCUACertificateManager,
  type OPCUAClient,
  TimestampsToReturn,
} from 'node-opcua';
import type { Reading } from '../../core/schema/wire.ts';
import { nextDue } from '../../core/time.ts';
import type { Driver, DriverContext, DriverStatus, ReadingSink } from '../types.ts';
import {
  classifyOpcuaError,
  createClient,
  type OpcuaFailure,
  openCertificateManager,
  pkiRoot,
  routeOpcuaLogs,
  userIdentity,
} from './client.ts';
import type { Deadband, OpcuaDevice, OpcuaPoint } from './config.ts';
import { badReading, dataValueToReading } from './decode.ts';

/** How the points of a device are being read right now. */
export type OpcuaReadMode = 'idle' | 'subscription' | 'polling' | 'mixed';

/** Keep-alive period the driver asks for when nothing changes, ms (OPC 10000-4 §5.13.1.1). */
const KEEPALIVE_TARGET_MS = 5000;

/** An OPC UA server connection. The registry creates it through kind.ts (lazy import); tests may construct it directly. */
export class OpcuaDriver implements Driver {
  readonly #pki: string;
  #sink: ReadingSink | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #cm: OPCUACertificateManager | undefined;
  #client: OPCUAClient | undefined;
  #session: ClientSession | undefined;
  #subscription: ClientSubscription | undefined;
  /** Aborted to make the current connection rebuild (watchdog, fatal reconnection error). */
  #rebuild: AbortController | undefined;
  #polled: OpcuaPoint[] = [];
  #mode: OpcuaReadMode = 'idle';
  #pending: Reading[] = [];
  #flushScheduled = false;
  /**
   * Wall time (performance.now) of the last sign of life. Keep-alives travel in real time whatever
   * the injected clock says: under a ScaledClock (the demo's --speed) plant time would make a healthy
   * subscription look silent.
   */
  #lastAlive = 0;
  #status: DriverStatus = { connected: false, cycles: 0, failedRequests: 0 };

  constructor(
    readonly config: OpcuaDevice,
    private readonly ctx: DriverContext,
  ) {
    this.#pki = pkiRoot(config.pkiDir ?? (ctx.dataDir ? `${ctx.dataDir}/opcua-pki` : undefined));
  }

  /** Absolute path of the PKI folder this driver uses. */
  get pkiDir(): string {
    return this.#pki;
  }

  /** How points are read now: by subscription, by polling (fallback or configured), or both. */
  get mode(): OpcuaReadMode {
    return this.#mode;
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.#loop) throw new Error(`device ${this.config.id}: already started`);
    routeOpcuaLogs(this.ctx.log);
    this.#sink = sink;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort?.abort(new Error('stopped'));
    this.#rebuild?.abort(new Error('stopped'));
    await this.#loop;
    this.#loop = undefined;
    await this.#teardown();
    await this.#cm?.dispose();
    this.#cm = undefined;
    this.#pending = [];
  }

  status(): DriverStatus {
    return { ...this.#status };
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.ctx;
    let backoff = this.config.reconnectDelayMs;
    while (!signal.aborted) {
      try {
        if (!this.#cm) this.#cm = await openCertificateManager(this.#pki);
        // Pick up certificates an operator trusted or rejected with `mrv pki` since the last attempt.
        else await this.#cm.reloadCertificates();
        await this.#connectAndServe(signal);
        backoff = this.config.reconnectDelayMs;
      } catch (err) {
        if (signal.aborted) break;
        const f = classifyOpcuaError(err, this.#pki);
        this.#fail(f);
        log.warn(
          {
            device: this.config.id,
            endpoint: this.config.endpointUrl,
            code: f.code,
            err: f.message,
            retryInMs: backoff,
          },
          'opcua connection failed',
        );
        this.#emitAllBad(`${f.code}: ${f.message}`);
      }
      await this.#teardown();
      if (signal.aborted) break;
      try {
        await clock.sleep(backoff, signal);
      } catch {
        break;
      }
      backoff = Math.min(backoff * 2, this.config.reconnectMaxDelayMs);
    }
  }

  /** Connects, sets up reading, and returns when the connection must be rebuilt or the driver stops. */
  async #connectAndServe(signal: AbortSignal): Promise<void> {
    const { log } = this.ctx;
    const cfg = this.config;
    const rebuild = new AbortController();
    this.#rebuild = rebuild;
    const onStop = () => rebuild.abort(new Error('stopped'));
    signal.addEventListener('abort', onStop, { once: true });
    try {
      const cm = this.#cm;
      if (!cm) throw new Error('certificate manager not open');
      // A session must outlive the gap between two polls (OPC 10000-4 §5.6.2 revisedSessionTimeout).
      const sessionTimeoutMs = Math.max(cfg.sessionTimeoutMs, 3 * cfg.pollIntervalMs);
      const client = createClient({ ...cfg, sessionTimeoutMs, pkiDir: this.#pki }, cm);
      this.#client = client;
      // stop() or a fatal reconnection error while connect() or a reconnection is pending: cut it short
      // instead of waiting for the transport timeout.
      rebuild.signal.addEventListener('abort', () => void client.disconnect().catch(() => {}), {
        once: true,
      });
      client.on('connection_lost', () => {
        if (this.#client !== client) return;
        this.#status.connected = false;
        this.#fail({ code: 'MRV_E_DEVICE_UNREACHABLE', message: 'connection lost; reconnecting' });
        log.warn({ device: cfg.id, endpoint: cfg.endpointUrl }, 'opcua connection lost; reconnecting');
        this.#emitAllBad('MRV_E_DEVICE_UNREACHABLE: connection to the OPC UA server lost; reconnecting');
      });
      client.on('connection_reestablished', () => {
        if (this.#client !== client) return;
        this.#status.connected = true;
        this.#lastAlive = performance.now();
        delete this.#status.lastError;
        log.info({ device: cfg.id, endpoint: cfg.endpointUrl }, 'opcua connection re-established');
      });
      client.on('after_reconnection', (err) => {
        if (err && this.#client === client) {
          log.warn({ device: cfg.id, err: err.message }, 'opcua reconnection failed; rebuilding the client');
          rebuild.abort(err);
        }
      });
      await client.connect(cfg.endpointUrl);
      if (rebuild.signal.aborted) return;
      const session = await client.createSession(userIdentity(cfg.identity));
      this.#session = session;
      this.#status.connected = true;
      delete this.#status.lastError;
      this.#lastAlive = performance.now();
      log.info(
        {
          device: cfg.id,
          endpoint: cfg.endpointUrl,
          securityMode: cfg.securityMode,
          identity: cfg.identity.type,
        },
        'opcua session active',
      );

      this.#polled = cfg.mode === 'polling' ? [...cfg.points] : await this.#subscribe(session);
      this.#mode =
        this.#polled.length === 0
          ? 'subscription'
          : this.#polled.length === cfg.points.length
            ? 'polling'
            : 'mixed';
      await this.#serve(rebuild.signal);
    } finally {
      signal.removeEventListener('abort', onStop);
    }
  }

  /**
   * Creates the subscription and its monitored items, one CreateMonitoredItems call per distinct
   * set of monitoring parameters. Returns the points that must be polled instead: all of them when
   * the subscription cannot be created, else those whose monitored item the server refused.
   */
  async #subscribe(session: ClientSession): Promise<OpcuaPoint[]> {
    const { log, clock } = this.ctx;
    const cfg = this.config;
    const keepAliveCount = Math.max(1, Math.ceil(KEEPALIVE_TARGET_MS / cfg.publishingIntervalMs));
    let sub: ClientSubscription;
    try {
      sub = await session.createSubscription2({
        requestedPublishingInterval: cfg.publishingIntervalMs,
        requestedMaxKeepAliveCount: keepAliveCount,
        requestedLifetimeCount: keepAliveCount * 10,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 0,
      });
    } catch (err) {
      const f = classifyOpcuaError(err);
      log.warn({ device: cfg.id, err: f.message }, 'opcua subscription refused; falling back to polling');
      return [...cfg.points];
    }
    this.#subscription = sub;
    sub.on('keepalive', () => {
      this.#lastAlive = performance.now();
    });
    sub.on('terminated', () => log.debug({ device: cfg.id }, 'opcua subscription terminated'));

    const groups = new Map<string, { params: MonitoringParametersOptions; points: OpcuaPoint[] }>();
    for (const p of cfg.points) {
      const samplingInterval = p.samplingIntervalMs ?? cfg.samplingIntervalMs;
      const queueSize = p.queueSize ?? cfg.queueSize;
      const deadband = p.deadband ?? cfg.deadband;
      const key = JSON.stringify([samplingInterval, queueSize, deadband ?? null]);
      let g = groups.get(key);
      if (!g) {
        g = {
          params: { samplingInterval, queueSize, discardOldest: true, filter: changeFilter(deadband) },
          points: [],
        };
        groups.set(key, g);
      }
      g.points.push(p);
    }
    const polled: OpcuaPoint[] = [];
    const byItem = new Map<ClientMonitoredItemBase, OpcuaPoint>();
    for (const g of groups.values()) {
      try {
        const group = await sub.monitorItems(
          g.points.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value })),
          g.params,
          TimestampsToReturn.Both,
        );
        group.monitoredItems.forEach((item, i) => {
          const point = g.points[i];
          if (!point) return;
          if (item.statusCode.isGood()) byItem.set(item, point);
          else {
            log.warn(
              { device: cfg.id, point: point.id, nodeId: point.nodeId, status: item.statusCode.name },
              'opcua monitored item refused; polling this point',
            );
            polled.push(point);
          }
        });
        group.on('changed', (item: ClientMonitoredItemBase, dv: DataValue) => {
          const point = byItem.get(item);
          if (!point) return;
          this.#lastAlive = performance.now();
          this.#queue(dataValueToReading(point, dv, clock.now()));
        });
      } catch (err) {
        log.warn(
          { device: cfg.id, err: classifyOpcuaError(err).message, points: g.points.map((p) => p.id) },
          'opcua monitored items could not be created; polling them',
        );
        polled.push(...g.points);
      }
    }
    if (polled.length === cfg.points.length) {
      // Nothing is monitored: a subscription that only sends keep-alives is of no use.
      await sub.terminate().catch(() => {});
      this.#subscription = undefined;
    }
    return polled;
  }

  /** Polls the polled points and watches the subscription until `signal` aborts. */
  async #serve(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.ctx;
    const cfg = this.config;
    const keepAlivePeriod =
      Math.max(1, Math.ceil(KEEPALIVE_TARGET_MS / cfg.publishingIntervalMs)) * cfg.publishingIntervalMs;
    const staleAfter = 3 * keepAlivePeriod + 5000;
    // Polls on a fixed grid (core/time.ts nextDue): as often as the poll interval promises.
    let due = clock.now();
    while (!signal.aborted) {
      if (this.#polled.length > 0) {
        const readings = await this.#poll(this.#polled);
        if (signal.aborted) break;
        this.#status.cycles++;
        this.#emit(readings);
      }
      if (
        this.#subscription &&
        this.#client &&
        !this.#client.isReconnecting &&
        this.#status.connected &&
        performance.now() - this.#lastAlive > staleAfter
      ) {
        log.warn(
          { device: cfg.id, silentMs: Math.round(performance.now() - this.#lastAlive) },
          'opcua subscription silent for three keep-alive periods; rebuilding the connection',
        );
        this.#emitAllBad('MRV_E_OPCUA_SESSION: subscription silent; reconnecting');
        return;
      }
      const interval = this.#polled.length > 0 ? cfg.pollIntervalMs : Math.min(1000, keepAlivePeriod);
      try {
        const now = clock.now();
        due = nextDue(due, interval, now);
        await clock.sleep(Math.max(0, due - now), signal);
      } catch {
        break;
      }
    }
  }

  /** One Read of the given points (OPC 10000-4 §5.10.2, maxAge 0, both timestamps). */
  async #poll(points: OpcuaPoint[]): Promise<Reading[]> {
    const { clock } = this.ctx;
    const session = this.#session;
    if (!session || !this.#client || this.#client.isReconnecting || !this.#status.connected) {
      const at = clock.now();
      return points.map((p) => badReading(p, 'MRV_E_DEVICE_UNREACHABLE: not connected; reconnecting', at));
    }
    try {
      const values = await session.read(
        points.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value })),
        0,
      );
      const at = clock.now();
      this.#lastAlive = performance.now();
      this.#status.lastSuccessAt = at;
      return points.map((p, i) => {
        const dv = values[i];
        return dv ? dataValueToReading(p, dv, at) : badReading(p, 'MRV_E_OPCUA_SESSION: missing result', at);
      });
    } catch (err) {
      const f = classifyOpcuaError(err);
      this.#fail(f);
      const at = clock.now();
      return points.map((p) => badReading(p, `${f.code}: ${f.message}`, at));
    }
  }

  #fail(f: OpcuaFailure): void {
    this.#status.failedRequests++;
    this.#status.lastError = `${f.code}: ${f.message}`;
  }

  /** Collects readings of one publish response (node-opcua emits them one by one) into one sink call. */
  #queue(r: Reading): void {
    this.#pending.push(r);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const batch = this.#pending;
      this.#pending = [];
      if (batch.length === 0 || this.#abort?.signal.aborted) return;
      this.#status.cycles++;
      // A publish response is the server answering, whatever the qualities it carries.
      this.#status.lastSuccessAt = this.ctx.clock.now();
      this.#emit(batch);
    });
  }

  #emitAllBad(reason: string): void {
    const at = this.ctx.clock.now();
    this.#emit(this.config.points.map((p) => badReading(p, reason, at)));
  }

  #emit(readings: Reading[]): void {
    // Nothing after stop(): node-opcua may still report the connection it is closing.
    if (readings.length === 0 || !this.#sink || this.#abort?.signal.aborted) return;
    try {
      this.#sink(readings);
    } catch (err) {
      this.ctx.log.error({ err, device: this.config.id }, 'reading sink failed');
    }
  }

  async #teardown(): Promise<void> {
    const client = this.#client;
    const session = this.#session;
    const sub = this.#subscription;
    this.#client = undefined;
    this.#session = undefined;
    this.#subscription = undefined;
    this.#rebuild = undefined;
    this.#polled = [];
    this.#mode = 'idle';
    this.#status.connected = false;
    if (!client) return;
    // Best effort and bounded: a dead server must not hold `stop()` for the request timeout.
    const bounded = (p: Promise<unknown>) =>
      Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
    if (sub && !client.isReconnecting) await bounded(sub.terminate());
    if (session && !client.isReconnecting) await bounded(session.close(true));
    await bounded(client.disconnect());
  }
}

/** The DataChangeFilter of a deadband (OPC 10000-4 §7.22.2); undefined (server default StatusValue) without one. */
function changeFilter(deadband: Deadband | undefined): DataChangeFilter | undefined {
  if (!deadband) return undefined;
  return new DataChangeFilter({
    trigger: DataChangeTrigger.StatusValue,
    deadbandType: deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
    deadbandValue: deadband.value,
  });
}
