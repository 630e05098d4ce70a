// A TCP proxy in front of a server, for making a device go silent synchronously (tests only):
// `block()` drops every connection and refuses new ones until `unblock()`.
import net from 'node:net';

/** A running proxy on 127.0.0.1. */
export interface TcpProxy {
  port: number;
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `target()` (read at each connection). */
export async function startTcpProxy(target: () => { host: string; port: number }): Promise<TcpProxy> {
  let blocked = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target());
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    block() {
      blocked = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    unblock() {
      blocked = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
