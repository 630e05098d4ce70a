/**
 * Watches the gateway process's V8 heap against its limit (`--max-old-space-size`, set by the systemd
 * unit deploy/systemd/mrv-gateway.service): a heap that reaches the limit ends the process ("heap out
 * of memory") and, under systemd, restarts it — the disk log keeps every batch, but while it restarts
 * nothing is polled. So the gateway says so before: a warning when the old generation in use passes
 * {@link HEAP_WARN_SHARE} of its limit, with the fix, repeated at most once an hour while it stays there.
 * The limit is `--max-old-space-size` when the process was given it (V8's `heap_size_limit` adds the
 * young generation's reservation, which the old generation can never use), else `heap_size_limit`.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';

/** Share of V8's heap limit above which the gateway warns. */
export const HEAP_WARN_SHARE = 0.75;

/** What a heap sample says. Pure. */
export function heapVerdict(usedBytes: number, limitBytes: number): { near: boolean; share: number } {
  const share = limitBytes > 0 ? usedBytes / limitBytes : 0;
  return { near: share >= HEAP_WARN_SHARE, share };
}

/**
 * The old generation's limit in bytes: `--max-old-space-size=N` (MiB) of the process's flags or
 * NODE_OPTIONS, the last one given; undefined without one.
 */
export function oldSpaceLimitBytes(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): number | undefined {
  let mib: number | undefined;
  for (const a of [...nodeOptions.split(/\s+/), ...execArgv]) {
    const m = /^--max[-_]old[-_]space[-_]size=(\d+)$/.exec(a);
    if (m) mib = Number(m[1]);
  }
  return mib === undefined ? undefined : mib * 2 ** 20;
}

/**
 * Samples the heap every `intervalMs` (default 30 s; the timer does not keep the process alive) and
 * warns as described above. Returns the function that stops it.
 */
export function watchHeap(log: Logger, intervalMs = 30_000, repeatMs = 3_600_000): () => void {
  let warnedAt = Number.NEGATIVE_INFINITY;
  const sample = () => {
    const h = getHeapStatistics();
    const young = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_used_size ?? 0;
    const oldLimit = oldSpaceLimitBytes();
    const used = oldLimit === undefined ? h.used_heap_size : h.used_heap_size - young;
    const limit = oldLimit ?? h.heap_size_limit;
    const v = heapVerdict(used, limit);
    if (!v.near || Date.now() - warnedAt < repeatMs) return;
    warnedAt = Date.now();
    const mib = (b: number) => Math.round(b / 2 ** 20);
    log.warn(
      { heapUsedMiB: mib(used), heapLimitMiB: mib(limit), share: Number(v.share.toFixed(2)) },
      `gateway heap ${mib(used)} of its ${mib(limit)} MiB limit: at the limit the process ends and restarts (no polling meanwhile); raise --max-old-space-size in NODE_OPTIONS (/etc/mrv/gateway.env, docs/install.en.md section 6)`,
    );
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  sample();
  return () => clearInterval(timer);
}
