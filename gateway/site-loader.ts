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
import { fileURLToPath } from 'node:url';
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

/** The child's entry module beside this one: compiled `.js` in dist/, the `.ts` source in development. */
function childEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts'))
    // Sources (tests, `MRV_FROM_SOURCE=1`): the child needs tsx's loader as well.
    return { file: here.replace(/site-loader\.ts$/, 'site-loader-child.ts'), execArgv: ['--import', 'tsx'] };
  return { file: here.replace(/site-loader\.js$/, 'site-loader-child.js'), execArgv: [] };
}

/**
 * Reads and validates `file` in a child process; the same result as `loadSiteConfig(file)` (driver kinds
 * looked up again by name here).
 * @param onStats called with the load's cost once it succeeded or failed
 * @throws MrvError MRV_E_CONFIG as `loadSiteConfig` (unreadable file, YAML errors, schema and driver
 *   problems, all listed), rebuilt from the child's; Error when the child dies without an answer
 */
export async function loadSiteConfigIsolated(
  file: string,
  onStats?: (s: SiteLoadStats) => void,
): Promise<LoadedSite> {
  const t0 = performance.now();
  const { file: entry, execArgv } = childEntry();
  const child = fork(entry, [file], {
    execArgv,
    // Structured clone: `undefined` members, numbers and strings come back as they were.
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const reply = await new Promise<SiteLoaderReply>((resolveReply, reject) => {
    let answered = false;
    child.once('message', (m) => {
      answered = true;
      resolveReply(m as SiteLoaderReply);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!answered)
        reject(new Error(`site loader (${entry}) exited (${signal ?? code}) without an answer for ${file}`));
    });
  });
  child.disconnect();
  onStats?.({ loaderPeakRssMiB: reply.peakRssMiB, ms: performance.now() - t0 });
  if (!reply.ok) {
    const e = reply.error;
    if (e.mrv) throw new MrvError(e.code as MrvError['code'], e.message, e.detail);
    const err = new Error(e.message);
    if (e.stack) err.stack = e.stack;
    throw err;
  }
  const s = reply.site;
  return { ...s, devices: s.devices.map((d) => ({ ...d, kind: driverKind(d.kind) })) };
}
