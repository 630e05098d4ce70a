/**
 * `mrv collector --transport nats`: the flags of the NATS JetStream transport (collector/nats-source.ts,
 * docs/scale-out.md) and the source they make. MQTT (`--transport mqtt`, one broker) stays the default.
 */
import type { Logger } from 'pino';
import type { CollectorOptions } from '../collector/collector.ts';
import {
  DEFAULT_NATS_ACK_WAIT_MS,
  DEFAULT_NATS_MAX_ACK_PENDING,
  NatsSource,
} from '../collector/nats-source.ts';
import { DEFAULT_BATCH_STREAM, DEFAULT_GATEWAY_STREAM } from '../collector/nats-streams.ts';
import { MrvError } from '../core/errors.ts';
import { provinceStreamNames } from '../core/schema/province.ts';
import { refusePasswordInUrl } from './integrity-options.ts';

/** Flags of the transport choice (parseArgs options). */
export const transportFlags = {
  transport: { type: 'string', default: 'mqtt' },
  'nats-servers': { type: 'string', default: 'nats://127.0.0.1:4222' },
  'nats-replicas': { type: 'string', default: '3' },
  'nats-ack-wait': { type: 'string', default: String(DEFAULT_NATS_ACK_WAIT_MS / 1000) },
  'nats-max-ack-pending': { type: 'string', default: String(DEFAULT_NATS_MAX_ACK_PENDING) },
} as const;

/** Values of {@link transportFlags}. */
export interface TransportValues {
  transport?: string | undefined;
  'nats-servers'?: string | undefined;
  'nats-replicas'?: string | undefined;
  'nats-ack-wait'?: string | undefined;
  'nats-max-ack-pending'?: string | undefined;
}

function positive(flag: string, text: string | undefined, whole: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n)))
    throw new MrvError(
      'MRV_E_CONFIG',
      `--${flag}: expected ${whole ? 'a whole number' : 'a number'} > 0, got "${text}"`,
    );
  return n;
}

/**
 * The NATS source for `--transport nats`, or undefined for `--transport mqtt`. A province collector
 * (`collector.province`, `--province`) consumes its province's streams (`MRV_BATCHES_{P}`,
 * `MRV_GATEWAYS_{P}`) over its topic prefix's subjects. Credentials and TLS
 * come from the collector's options (`--username`, `--password-file`/`--password-env`, `--ca`,
 * `--cert`, `--key`).
 * @throws MrvError `MRV_E_CONFIG` for another transport, a bad number, a password in a URL, or no server
 */
export function natsSourceFrom(
  v: TransportValues,
  collector: Partial<CollectorOptions>,
  log: Logger,
): NatsSource | undefined {
  const transport = v.transport ?? 'mqtt';
  if (transport === 'mqtt') return undefined;
  if (transport !== 'nats')
    throw new MrvError('MRV_E_CONFIG', `--transport: expected mqtt or nats, got "${transport}"`);
  const servers = (v['nats-servers'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0)
    throw new MrvError('MRV_E_CONFIG', '--nats-servers: give nats://HOST:PORT[,nats://HOST:PORT...]');
  for (const url of servers) refusePasswordInUrl('nats-servers', url);
  // A province partition has its own streams over its own subjects (core/schema/province.ts).
  const streams =
    collector.province !== undefined
      ? provinceStreamNames(collector.province, {
          batchStream: DEFAULT_BATCH_STREAM,
          gatewayStream: DEFAULT_GATEWAY_STREAM,
        })
      : undefined;
  return new NatsSource({
    servers,
    log,
    ...(collector.topicPrefix !== undefined ? { topicPrefix: collector.topicPrefix } : {}),
    ...(streams ?? {}),
    replicas: positive('nats-replicas', v['nats-replicas'] ?? '3', true),
    ackWaitMs: Math.round(positive('nats-ack-wait', v['nats-ack-wait'] ?? '30', false) * 1000),
    maxAckPending: positive('nats-max-ack-pending', v['nats-max-ack-pending'] ?? '512', true),
    ...(collector.clientId !== undefined ? { name: collector.clientId } : {}),
    ...(collector.username !== undefined ? { username: collector.username } : {}),
    ...(collector.password !== undefined ? { password: collector.password } : {}),
    ...(collector.ca ? { ca: collector.ca.toString('utf8') } : {}),
    ...(collector.cert ? { cert: collector.cert.toString('utf8') } : {}),
    ...(collector.key ? { key: collector.key.toString('utf8') } : {}),
  });
}
