/**
 * A "hung" Modbus TCP device, in a process of its own: it accepts every TCP connection and never
 * reads, answers or closes one (a device whose TCP stack is alive and whose application is not).
 * Being another process, the file descriptors it holds never mix with the ones a test counts in its
 * own process or in a gateway's.
 */
import { readdirSync } from 'node:fs';
import { waitFor } from './free-port.ts';
import { spawnTied } from './tied-process.ts';

const SCRIPT = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(1024)
print("PORT", s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    print("ACCEPT", len(held), flush=True)
`;

/** A running hung device. */
export interface HungDevice {
  port: number;
  /** TCP connections accepted so far. */
  accepted(): number;
  stop(): Promise<void>;
}

/** Starts the hung device on a free loopback port. @throws Error when it does not come up within 15 s */
export async function startHungDevice(): Promise<HungDevice> {
  const proc = await spawnTied('/usr/bin/python3', ['-u', '-c', SCRIPT]);
  let port = 0;
  let accepted = 0;
  let partial = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const [word, n] = line.trim().split(' ');
      if (word === 'PORT') port = Number(n);
      if (word === 'ACCEPT') accepted = Number(n);
    }
  });
  await waitFor('hung device port', async () => port > 0, {
    timeoutMs: 15_000,
    abort: () => (proc.running() ? undefined : new Error(`hung device exited: ${proc.tail()}`)),
  });
  return { port, accepted: () => accepted, stop: () => proc.stop(2000) };
}

/** Open file descriptors of a process (`/proc/<pid>/fd`; Linux), default this one. */
export function openFds(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
