// Preloaded (NODE_OPTIONS=--require) into every Node process and worker thread of a benchmark re-run under
// profiling (bench/profile.ts `profileRun`), because Node 20 refuses --cpu-prof in NODE_OPTIONS: profiles
// the thread with the in-process inspector (the same V8 CPU profiler and .cpuprofile format as
// `node --cpu-prof`) and writes into $BENCH_PROFILE_DIR:
// - `<pid>.<threadId>.<n>.<wall ms at its start>.cpuprofile`, a chunk every BENCH_PROFILE_CHUNK_MS (5 s) and one at exit, so
//   that a process killed by a signal, or a worker terminated by its owner, still leaves most of its profile;
// - `<pid>.<threadId>.heap.json`: process.memoryUsage() and the V8 heap-space statistics, sampled
//   every second, kept at the highest RSS seen (the peak) and the latest (the steady point);
// - `<pid>.<threadId>.argv.json`: the command line, so a summary names the process.
// A process with no SIGTERM handler of its own exits (code 143) on SIGTERM through process.exit, as
// Node's default would, but writing its last chunk first.
'use strict';
const dir = process.env.BENCH_PROFILE_DIR;
if (dir) {
  const fs = require('node:fs');
  const path = require('node:path');
  const inspector = require('node:inspector');
  const v8 = require('node:v8');
  const { threadId } = require('node:worker_threads');
  const tag = `${process.pid}.${threadId}`;
  const chunkMs = Number(process.env.BENCH_PROFILE_CHUNK_MS || 5000);
  let n = 0;
  const session = new inspector.Session();
  session.connect();
  // Same-thread inspector sessions answer synchronously: usable in an 'exit' handler.
  const post = (method, params) => {
    let out;
    session.post(method, params, (err, res) => {
      if (err) throw err;
      out = res;
    });
    return out;
  };
  post('Profiler.enable');
  post('Profiler.setSamplingInterval', { interval: 1000 });
  let wallStart = Date.now();
  post('Profiler.start');
  const flush = (restart) => {
    try {
      const res = post('Profiler.stop');
      if (res?.profile)
        fs.writeFileSync(
          path.join(dir, `${tag}.${String(n++).padStart(4, '0')}.${wallStart}.cpuprofile`),
          JSON.stringify(res.profile),
        );
      if (restart) {
        wallStart = Date.now();
        post('Profiler.start');
      }
    } catch {
      // the profile is lost, never the process
    }
  };
  const heap = { peak: undefined, latest: undefined };
  const sample = () => {
    const s = {
      at: new Date().toISOString(),
      memoryUsage: process.memoryUsage(),
      heapSpaces: v8.getHeapSpaceStatistics(),
    };
    heap.latest = s;
    if (!heap.peak || s.memoryUsage.rss >= heap.peak.memoryUsage.rss) heap.peak = s;
    try {
      fs.writeFileSync(path.join(dir, `${tag}.heap.json`), JSON.stringify(heap));
    } catch {
      // as above
    }
  };
  try {
    fs.writeFileSync(path.join(dir, `${tag}.argv.json`), JSON.stringify({ argv: process.argv, threadId }));
  } catch {
    // as above
  }
  setInterval(() => flush(true), chunkMs).unref();
  setInterval(sample, 1000).unref();
  process.on('exit', () => {
    sample();
    flush(false);
  });
  if (threadId === 0)
    process.on('SIGTERM', () => {
      if (process.listenerCount('SIGTERM') === 1) process.exit(143);
    });
}
