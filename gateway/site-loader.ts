/**
 * The long-running gateway's site loader: the file is read, parsed and validated by a short-lived child
 * process (site-loader-child.ts running {@link ../gateway/config.ts loadSiteConfig}), which hands back
 * the validated site by structured clone over IPC and exits. Parsing a large site file allocates far
 * more than its result (`yaml`'s syntax tree and document, zod's copies: ~100 MB for 10 000 points,
 * bench/footprint.ts); in the child that memory is another process's and leaves with it, so the
 * gateway's own peak RSS (VmHWM) and committed heap stay those of the running gateway. The gateway
 * process never loads the YAML parser. Problems are the child's `MrvError`, rebuilt here with the same
 * code, message (file:line:col, YAML path, every problem at once) and detail.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MrvError } from '../core/errors.ts';
import { driverKind } from '../drivers/registry.ts';
import type { LoadedSite } from './loaded-site.ts';

/** What the child sends: the validated site with each driver kind by name, or the error. */
export type SiteLoaderReply =
  | {
      ok: true;
      site: Omit<LoadedSite, 'devices'> & {
        devices: (Omit<LoadedSite['devices'][number], 'kind'> & { kind: string })[];
      };
      /** The child's peak resident set (VmHWM), MiB: what loading cost, paid outside the gateway. */
      peakRssMiB: number;
    }
  | {
      ok: false;
      error: {
        mrv: boolean;
        code?: string;
        message: string;
        detail?: Record<string, unknown>;
        stack?: string;
      };
      peakRssMiB: number;
    };

/** Cost of one load, for benchmarks and logs. */
export interface SiteLoadStats {
  /** The child's peak resident set, MiB (0 where /proc is not available). */
  loaderPeakRssMiB: number;
  /** Wall-clock time from fork to the validated site, ms. */
  ms: number;
}

/** How long a site load may take before the child is killed (a 10 000-point site loads in ~1–3 s). */
export const SITE_LOAD_TIMEOUT_MS = 120_000;

/** The last bytes of the child's stderr kept for the error when it dies without an answer. */
const STDERR_TAIL_BYTES = 4096;

/**
 * The child's entry module beside this one: compiled `.js` in dist/, the `.ts` source in development.
 * From the sources the child needs tsx's loader, named by its absolute URL: `--import tsx` would be
 * resolved from the child's working directory, which is the gateway's (e.g. the site's folder, or `/`
 * under systemd), where no `node_modules/tsx` is to be found.
 */
function childEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    return { file: here.replace(/site-loader\.ts$/, 'site-loader-child.ts'), execArgv: ['--import', tsx] };
  }
  return { file: here.replace(/site-loader\.js$/, 'site-loader-child.js'), execArgv: [] };
}

/** V8 heap-size flags: the gateway's own (e.g. a small old space on a plant box), not the loader's. */
const HEAP_SIZE_FLAG =
  /^--(max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size|max[-_]heap[-_]size|max[-_]young[-_]generation[-_]size)(=|$)/;

/**
 * The loader's environment: the gateway's, with the V8 heap-size flags taken out of NODE_OPTIONS (any
 * other option, e.g. a `--require` of the operator's, stays). Parsing a 10 000-point site allocates
 * ~100 MB in passing; under a gateway's `--max-old-space-size=64` the child would die of heap
 * exhaustion before answering. The load is short-lived: Node's default limits fit it.
 */
export function loaderEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const options = env.NODE_OPTIONS;
  if (!options) return env;
  const kept: string[] = [];
  const words = options.split(/\s+/).filter((w) => w !== '');
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (!HEAP_SIZE_FLAG.test(w)) kept.push(w);
    // `--max-old-space-size 64`: the value is the next word.
    else if (!w.includes('=') && /^\d+$/.test(words[i + 1] ?? '')) i++;
  }
  return { ...env, NODE_OPTIONS: kept.join(' ') };
}

/** Options of {@link loadSiteConfigIsolated}. */
export interface SiteLoadOptions {
  /** Called with the load's cost once it succeeded or failed with the file's problems. */
  onStats?: (s: SiteLoadStats) => void;
  /** Kill the child and fail after this long, ms (default {@link SITE_LOAD_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/**
 * Reads and validates `file` in a child process; the same result as `loadSiteConfig(file)` (driver kinds
 * looked up again by name here). The child's stdout and stderr are not the gateway's (its stderr is the
 * JSON log): what the child writes to stderr is kept and, should it die, told in the error.
 * @param options a stats callback and a timeout
 * @throws MrvError MRV_E_CONFIG as `loadSiteConfig` (unreadable file, YAML errors, schema and driver
 *   problems, all listed), rebuilt from the child's; MrvError MRV_E_INTERNAL when the loader itself
 *   fails (cannot be started, dies or is killed without an answer, or exceeds the timeout), with its
 *   exit code or signal and the end of its stderr — the file may well be valid then
 */
export async function loadSiteConfigIsolated(
  file: string,
  { onStats, timeoutMs = SITE_LOAD_TIMEOUT_MS }: SiteLoadOptions = {},
): Promise<LoadedSite> {
  const t0 = performance.now();
  const { file: entry, execArgv } = childEntry();
  let stderrTail = '';
  const failed = (why: string, cause?: unknown) =>
    new MrvError(
      'MRV_E_INTERNAL',
      `the site loader (${entry}) ${why} for ${file}${stderrTail ? `; it wrote:\n${stderrTail}` : ''}`,
      { file },
      cause === undefined ? undefined : { cause },
    );
  const child = fork(entry, [file], {
    execArgv,
    env: loaderEnv(),
    // Structured clone: `undefined` members, numbers and strings come back as they were.
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  // The stderr pipe closes after 'exit' may have fired: wait for 'close' so the tail is whole.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('close', (code, signal) => res({ code, signal })),
  );
  let timer: NodeJS.Timeout | undefined;
  const reply = await new Promise<SiteLoaderReply>((resolveReply, reject) => {
    let answered = false;
    child.once('message', (m) => {
      answered = true;
      resolveReply(m as SiteLoaderReply);
    });
    child.on('error', (err) => {
      if (!answered) reject(failed(`could not be run (${err.message})`, err));
    });
    let timedOut = false;
    void closed.then(({ code, signal }) => {
      if (answered) return;
      reject(
        failed(
          timedOut
            ? `did not answer within ${timeoutMs} ms and was killed`
            : `exited (${signal ?? `code ${code}`}) without an answer`,
        ),
      );
    });
    timer = setTimeout(() => {
      if (answered) return;
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
  }).finally(() => clearTimeout(timer));
  if (child.connected) child.disconnect();
  onStats?.({ loaderPeakRssMiB: reply.peakRssMiB, ms: performance.now() - t0 });
  if (!reply.ok) {
    const e = reply.error;
    if (e.mrv) throw new MrvError(e.code as MrvError['code'], e.message, e.detail);
    const err = new Error(e.message);
    if (e.stack) err.stack = e.stack;
    throw err;
  }
  const s = internStrings(reply.site);
  return { ...s, devices: s.devices.map((d) => ({ ...d, kind: driverKind(d.kind) })) };
}

/**
 * Makes equal strings of a structured clone one string: the clone gives every value its own copy, so
 * a 10,000-point site came back with 10,000 `"input"`, `"float32"`, `"kW"` and two copies of every
 * point id (the site as written and the drivers' parsed configs), ~2 MiB that the gateway keeps for
 * its whole life (bench/analysis.md, gateway footprint). Changes `value` in place and returns it.
 */
function internStrings<T>(value: T): T {
  const strings = new Map<string, string>();
  const seen = new Set<object>();
  const intern = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const known = strings.get(v);
      if (known !== undefined) return known;
      strings.set(v, v);
      return v;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) v[i] = intern(v[i]);
    else if (Object.getPrototypeOf(v) === Object.prototype) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = intern(o[k]);
    }
    return v;
  };
  return intern(value) as T;
}
