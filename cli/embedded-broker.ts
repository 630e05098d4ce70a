/**
 * An in-process MQTT broker (aedes) for the one-command demo and for tests that need no external
 * broker. Production sites point the gateway and collector at Mosquitto (deploy/mosquitto/), EMQX or
 * any MQTT 3.1.1/5 broker.
 *
 * It authenticates every client against an accounts file (cli/broker-accounts.ts: scrypt-hashed
 * passwords, roles gateway/collector/live) and enforces the topic ACL of each role with aedes' hooks:
 * `authenticate` (wrong or missing credentials: CONNACK 4), `authorizePublish` (a publish outside the
 * account's topics, or a last will there, is not delivered; aedes then closes the connection),
 * `authorizeSubscribe` (a subscription outside them is refused, SUBACK 128) and `authorizeForward`
 * (nothing outside the read rights is ever delivered, retained or queued messages included). A client
 * id once used by one account cannot be taken by another while the broker runs: that would take over
 * the other's persistent session.
 */
import { createServer, type Server } from 'node:net';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import {
  type BrokerAccountsFile,
  mayPublish,
  maySubscribe,
  type TopicRights,
  topicRights,
  verifyPassword,
} from './broker-accounts.ts';

/** A running embedded broker. */
export interface EmbeddedBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  host?: string;
  /** 0 picks a free port; default 1883. */
  port?: number;
  /**
   * The accounts (cli/broker-accounts.ts). Required: a broker that lets anyone in lets anyone publish
   * readings as any unit. `'anonymous'` (no authentication, no ACL) is for tests of other parts only.
   */
  accounts: BrokerAccountsFile | 'anonymous';
  /** Where refusals are logged (warn); silent without. */
  log?: Logger;
}

/** The aedes hooks of authentication and ACL for `accounts` (exported for tests). */
export function accessHooks(
  accounts: BrokerAccountsFile,
  log?: Logger,
): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'> {
  const byName = new Map(accounts.accounts.map((a) => [a.username, a]));
  const rightsOf = new WeakMap<Client, TopicRights>();
  // client id → the account that first used it (sessions live as long as the process: memory persistence)
  const owners = new Map<string, string>();
  const refuse = (returnCode: 4 | 5, message: string): AuthenticateError =>
    Object.assign(new Error(message), { returnCode });
  return {
    authenticate: (client, username, password, done) => {
      const account = username === undefined ? undefined : byName.get(username);
      const pw = password?.toString('utf8') ?? '';
      void (async () => {
        // A hash is computed even for an unknown name, so timing does not tell names apart.
        const ok = await verifyPassword(pw, account?.password ?? accounts.accounts[0]?.password ?? '');
        if (!account || !ok) {
          log?.warn({ clientId: client.id, username }, 'broker: refused a client (bad username or password)');
          return done(refuse(4, 'bad username or password'), false);
        }
        const owner = owners.get(client.id);
        if (owner !== undefined && owner !== account.username) {
          log?.warn(
            { clientId: client.id, username, owner },
            "broker: refused a client id that is another account's session",
          );
          return done(refuse(5, 'client id belongs to another account'), false);
        }
        const rights = topicRights(account, accounts.prefix);
        const will = (client as unknown as { _will?: { topic?: string } })._will;
        if (will?.topic !== undefined && !mayPublish(rights, will.topic)) {
          log?.warn(
            { clientId: client.id, username, topic: will.topic },
            'broker: refused a last will outside the account',
          );
          return done(refuse(5, 'last will topic not allowed'), false);
        }
        owners.set(client.id, account.username);
        rightsOf.set(client, rights);
        done(null, true);
      })().catch((err: unknown) => done(refuse(5, (err as Error).message), false));
    },
    authorizePublish: (client, packet, done) => {
      const rights = client ? rightsOf.get(client) : undefined;
      if (rights && mayPublish(rights, packet.topic)) return done(null);
      log?.warn(
        { clientId: client?.id, topic: packet.topic },
        'broker: dropped a publish outside the account (connection closed)',
      );
      done(new Error(`publishing to ${packet.topic} is not allowed`));
    },
    authorizeSubscribe: (client, sub, done) => {
      const rights = rightsOf.get(client);
      if (rights && maySubscribe(rights, sub.topic)) return done(null, sub);
      log?.warn(
        { clientId: client.id, topic: sub.topic },
        'broker: refused a subscription outside the account',
      );
      done(null, null);
    },
    authorizeForward: (client, packet) => {
      const rights = rightsOf.get(client);
      return rights && maySubscribe(rights, packet.topic) ? packet : null;
    },
  };
}

/**
 * Starts aedes on `host:port` with the accounts' authentication and ACL.
 * @throws the listen error (e.g. EADDRINUSE) when the port is taken
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker(
    options.accounts === 'anonymous' ? {} : accessHooks(options.accounts, options.log),
  );
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 1883, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 1883);
  return {
    url: `mqtt://${host}:${port}`,
    port,
    stop: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
