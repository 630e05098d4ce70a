/**
 * Loopback ports for servers that tests start (docs/architecture.md §10 rule 9): ask the kernel for a free port, or
 * wait until a server accepts connections on one.
 */
import net from 'node:net';

/**
 * Returns a TCP port on `host` that was free a moment ago (the kernel picks it by binding port 0).
 * Another process may take it before the caller binds it; callers that spawn servers retry on
 * "address in use".
 * @param host bind address, default `127.0.0.1`
 */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`free-port: unexpected address ${String(address)}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** Resolves `true` when a TCP connection to `host:port` succeeds, `false` when it is refused or times out. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Polls until `check()` resolves `true`, every `intervalMs`.
 * @throws Error with `what` in the message when `timeoutMs` passes first, or whatever `abort()` returns
 *   (checked before each poll, e.g. "the server process exited").
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; abort?: () => Error | undefined },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 25;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted !== undefined) throw aborted;
    if (await check()) return;
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Whether `port` on `host` can be bound right now. */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * An offset that moves every one of `ports` onto a port that is free a moment ago (for
 * `mrv demo --sim-port-offset`): tries random offsets in [1000, maxOffset].
 * @throws Error after 50 tries without one
 */
export async function getFreePortOffset(
  ports: readonly number[],
  maxOffset: number,
  host = '127.0.0.1',
): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const offset = 1000 + Math.floor(Math.random() * (maxOffset - 1000));
    let ok = true;
    for (const p of ports)
      if (!(await bindable(p + offset, host))) {
        ok = false;
        break;
      }
    if (ok) return offset;
  }
  throw new Error('free-port: no offset with every port free');
}
