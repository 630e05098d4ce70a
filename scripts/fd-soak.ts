/**
 * Soak run for issue 16: `mrv gateway` polling a Modbus TCP device that accepts connections and never
 * answers, at the default timeout and retries (1000 ms, 1 retry), for MINUTES (default 10). Prints the
 * gateway's open file descriptors (/proc/<pid>/fd) every 30 s, then sends SIGINT and prints how long
 * the gateway took to exit. test/faults/hung-tcp-device.test.ts runs the same over 30–40 s with a
 * short timeout.
 *
 * Usage: node_modules/.bin/tsx scripts/fd-soak.ts [MINUTES]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GATEWAY, MRV, root, UNIT, workspace } from '../test/faults/harness.ts';
import { openFds, startHungDevice } from '../test/helpers/hung-device.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { spawnTied } from '../test/helpers/tied-process.ts';

const minutes = Number(process.argv[2] ?? 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const device = await startHungDevice();
const mosquitto = await startMosquitto();
const ws = workspace();
const site = path.join(ws.dir, 'site.yaml');
writeFileSync(
  site,
  `version: 1
unit: { id: ${UNIT}, name: Soak unit, industry: cement, province: 北京 }
gateway:
  id: ${GATEWAY}
  mqtt: ${JSON.stringify({ url: mosquitto.url })}
  bufferDir: buffer
  signingKeyFile: keys/${GATEWAY}.key.pem
meters:
  - { id: m1, name: meter, kind: flowmeter }
devices:
  - id: hung
    driver: modbus-tcp
    host: 127.0.0.1
    port: ${device.port}
    points:
      - { id: hung.p, table: holding, address: 0, type: uint16, unit: m3, meter: m1 }
`,
);
const gw = await spawnTied(process.execPath, [MRV, 'gateway', '-c', site], { cwd: root });
const started = Date.now();
try {
  await sleep(5000);
  const first = openFds(gw.pid);
  console.log(`t=5s fds=${first} accepted=${device.accepted()}`);
  while (Date.now() - started < minutes * 60_000) {
    await sleep(30_000);
    const s = Math.round((Date.now() - started) / 1000);
    console.log(`t=${s}s fds=${openFds(gw.pid)} accepted=${device.accepted()} running=${gw.running()}`);
  }
  const t = Date.now();
  gw.child.kill('SIGINT');
  const exit = await Promise.race([gw.exited, sleep(30_000).then(() => undefined)]);
  console.log(
    `SIGINT -> ${exit ? `exit code ${exit.code}` : 'still running after 30 s'} in ${Date.now() - t} ms`,
  );
} finally {
  await gw.stop();
  await mosquitto.stop();
  await device.stop();
  ws.cleanup();
}
