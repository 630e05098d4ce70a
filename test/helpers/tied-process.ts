/**
 * Child processes for test servers (InfluxDB, Mosquitto) that never outlive the test process.
 *
 * Two safety nets, because a vitest worker can end in ways that run no JavaScript:
 * - a `process.on('exit')` hook SIGKILLs every live child when the worker exits normally or on an
 *   uncaught exception (signals sent from an exit hook are synchronous);
 * - a watchdog `sh` per child blocks reading a pipe from this process; when this process dies for any
 *   reason, SIGKILL included, the kernel closes the pipe, `read` returns and the watchdog SIGKILLs the
 *   server and removes its temp folder (`orphanCleanupDir`). The watchdog is unref'd, so it never keeps
 *   the event loop alive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** A spawned server process with its recent output. */
export interface TiedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the process has exited. */
  running(): boolean;
  /** The last lines (up to 60) the process wrote to stdout and stderr. */
  tail(): string;
  /** Sends SIGKILL now, without waiting. */
  kill9(): void;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000); resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `command` (not detached, so it shares this process's session) and ties its life to this
 * process (see the file comment). `orphanCleanupDir` is removed by the watchdog if this process dies
 * first; a normal `stop()` leaves its removal to the caller.
 * @throws Error when the process cannot be spawned (e.g. ENOENT).
 */
export async function spawnTied(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; orphanCleanupDir?: string } = {},
): Promise<TiedProcess> {
  installExitHook();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`spawn ${command}: no pid`);
  live.add(child);

  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > 60) lines.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  // The watchdog ignores TERM/INT/HUP: a signal to the whole process group (Ctrl-C, `kill -- -pgid`)
  // must not take it down before it has seen this process go.
  const script =
    'trap "" TERM INT HUP; read _ignored; kill -9 "$1" 2>/dev/null; if [ -n "$2" ]; then sleep 0.2; rm -rf -- "$2"; fi';
  const watchdog = spawn(
    '/bin/sh',
    ['-c', script, 'mrv-test-watchdog', String(pid), options.orphanCleanupDir ?? ''],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  watchdog.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  watchdog.stdin?.on('error', () => {});

  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      live.delete(child);
      // The server is gone; the watchdog must not outlive it (it would kill a reused pid later).
      watchdog.kill('SIGKILL');
      resolve({ code, signal });
    });
  });

  return {
    child,
    pid,
    exited,
    running: () => alive,
    tail: () => lines.join('\n'),
    kill9: () => {
      if (alive) child.kill('SIGKILL');
    },
    stop: async (graceMs = 5000) => {
      if (!alive) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
