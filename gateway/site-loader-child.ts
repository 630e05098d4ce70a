/**
 * The child process of site-loader.ts: `node site-loader-child.js SITE.yaml` loads the site with
 * {@link loadSiteConfig}, sends one {@link SiteLoaderReply} over IPC and exits. Run only by
 * {@link ../gateway/site-loader.ts loadSiteConfigIsolated}.
 */
import { readFileSync } from 'node:fs';
import { MrvError } from '../core/errors.ts';
import { loadSiteConfig } from './config.ts';
import type { SiteLoaderReply } from './site-loader.ts';

/** This process's VmHWM in MiB, 0 where /proc is not available. */
function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function answer(): SiteLoaderReply {
  try {
    const loaded = loadSiteConfig(process.argv[2] as string);
    const site = { ...loaded, devices: loaded.devices.map((d) => ({ ...d, kind: d.kind.name as string })) };
    return { ok: true, site, peakRssMiB: peakRssMiB() };
  } catch (err) {
    const e = err as Error;
    return {
      ok: false,
      error:
        err instanceof MrvError
          ? { mrv: true, code: err.code, message: err.message, ...(err.detail ? { detail: err.detail } : {}) }
          : { mrv: false, message: e?.message ?? String(err), ...(e?.stack ? { stack: e.stack } : {}) },
      peakRssMiB: peakRssMiB(),
    };
  }
}

// A hang-up sent to the gateway's whole process group (a closed terminal, `kill -HUP -PGID`) asks the
// gateway to reload; it must not kill a load in progress. SIGINT and SIGTERM still end it.
process.on('SIGHUP', () => {});
process.send?.(answer(), () => {
  if (process.connected) process.disconnect();
});
