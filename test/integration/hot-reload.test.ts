/**
 * Hot reload of the site file (issue 15 item 3), with real parts: the aluminium simulator over Modbus
 * TCP, a gateway, Mosquitto. Under load the gateway takes a changed file: the devices it did not change
 * keep polling without a gap, the seq runs on without a hole or a repeat, the first batch after the
 * reload declares the change (signed like the rest), and the collector records it as
 * MRV_F_CONFIG_CHANGED. A file that changes what needs a restart is refused and changes nothing; `mrv
 * gateway` keeps running on its configuration when SIGHUP finds a broken file, and takes the fixed one.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { Batch } from '../../core/schema/wire.ts';
import { parseSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { type AluminiumSimulator, startAluminiumSimulator } from '../../simulators/aluminium/server.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const tmp = mkdtempSync(join(tmpdir(), 'mrv-reload-'));
let sim: AluminiumSimulator;
let mosquitto: MosquittoServer;

beforeAll(async () => {
  [sim, mosquitto] = await Promise.all([startAluminiumSimulator({ seed: 11 }), startMosquitto()]);
});
afterAll(async () => {
  await Promise.all([sim?.stop(), mosquitto?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

/** The aluminium example on the simulator's ports, released on PUBACK (no collector in these tests). */
function siteText(edit: (doc: ReturnType<typeof parseDocument>) => void = () => {}): string {
  const doc = parseDocument(readFileSync(join(root, 'examples/aluminium-smelter.site.yaml'), 'utf8'));
  (doc.toJS().devices as { id: string }[]).forEach((d, i) => {
    const station = Object.values(sim.registerMap).find((s) => s.deviceId === d.id);
    doc.setIn(['devices', i, 'port'], station ? sim.ports[station.id] : 1);
    doc.setIn(['devices', i, 'timeoutMs'], 10_000);
  });
  doc.setIn(['gateway', 'mqtt', 'url'], mosquitto.url);
  doc.setIn(['gateway', 'delivery', 'release'], 'broker');
  doc.deleteIn(['gateway', 'mqtt', 'username']);
  doc.deleteIn(['gateway', 'mqtt', 'passwordFile']);
  doc.deleteIn(['gateway', 'signingKeyFile']);
  doc.setIn(['gateway', 'bufferDir'], 'buffer');
  edit(doc);
  return String(doc);
}

/** Every data batch of the unit, by seq (a batch sent twice counts once). */
async function subscribe(
  unitId: string,
): Promise<{ batches: Map<number, Batch>; stop: () => Promise<void> }> {
  const batches = new Map<number, Batch>();
  const sub = await mqtt.connectAsync(mosquitto.url, { clientId: `reload-sub-${Math.random()}` });
  await sub.subscribeAsync(`mrv/v1/${unitId}/+/data`, { qos: 1 });
  sub.on('message', (_t, payload) => {
    const b = JSON.parse(payload.toString()) as Batch;
    if (!batches.has(b.seq)) batches.set(b.seq, b);
  });
  return { batches, stop: () => sub.endAsync() };
}

/** Largest gap between consecutive readings of one point, ms. */
function largestGap(batches: Iterable<Batch>, point: string): number {
  const ts = [...batches]
    .flatMap((b) => b.readings.filter((r) => r.point === point).map((r) => Date.parse(r.ts)))
    .sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, (ts[i] ?? 0) - (ts[i - 1] ?? 0));
  return gap;
}

/** Waits for `ok`; on timeout the error carries `context()` (e.g. the process's last output). */
const waitFor = async (ok: () => boolean, what: string, timeoutMs = 60_000, context = () => '') => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) {
      const more = context();
      throw new Error(`timed out waiting for ${what}${more ? `; the process wrote:\n${more}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('gateway hot reload', () => {
  it('keeps unchanged devices polling without a gap, runs the seq on and declares the change', async () => {
    const dir = mkdtempSync(join(tmp, 'gw-'));
    const file = join(dir, 'site.yaml');
    writeFileSync(file, siteText());
    const before = parseSiteConfig(readFileSync(file, 'utf8'), file);
    const { batches, stop } = await subscribe(before.site.unit.id);
    const gw = new Gateway({ site: before, log });
    try {
      await gw.start();
      const of = (device: string) => [...batches.values()].filter((b) => b.device === device);
      await waitFor(() => of('potline').length >= 5 && of('anode-scale').length >= 2, 'first batches');
      // The new file: the DC meter gets another timeout (changed), the anode scale is gone (removed).
      writeFileSync(
        file,
        siteText((doc) => {
          const ids = (doc.toJS().devices as { id: string }[]).map((d) => d.id);
          doc.setIn(['devices', ids.indexOf('potline-dc-meter'), 'timeoutMs'], 12_000);
          doc.deleteIn(['devices', ids.indexOf('anode-scale')]);
        }),
      );
      const after = parseSiteConfig(readFileSync(file, 'utf8'), file);
      const seqAtReload = Math.max(...batches.keys());
      const r = await gw.reload(after);
      expect(r).toMatchObject({
        state: 'reloaded',
        added: [],
        removed: ['anode-scale'],
        changed: ['potline-dc-meter'],
      });
      expect(Object.keys(gw.deviceStatus())).toEqual(['potline', 'potline-dc-meter', 'ladle-scale']);
      await waitFor(
        () => of('potline').filter((b) => b.seq > seqAtReload).length >= 5,
        'batches after the reload',
      );
      // The seq runs on: every seq from 1 to the newest exactly once, the change declared once.
      const seqs = [...batches.keys()].sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      const declaring = [...batches.values()].filter((b) => b.config);
      expect(declaring).toHaveLength(1);
      expect(declaring[0]?.seq).toBeGreaterThan(seqAtReload);
      expect(declaring[0]?.config).toEqual({
        hash: after.configHash,
        previous: before.configHash,
        added: [],
        removed: ['anode-scale'],
        changed: ['potline-dc-meter'],
      });
      // No gap on the devices the reload did not touch (1 s polls; a poll late by a busy box is not a gap).
      expect(largestGap(batches.values(), 'potline.current')).toBeLessThan(3000);
      // The removed device publishes nothing after the batch that declared the change.
      expect(of('anode-scale').every((b) => b.seq < (declaring[0]?.seq ?? 0))).toBe(true);
      // What needs a restart is refused, and nothing changes.
      const moved = parseSiteConfig(
        siteText((doc) => doc.setIn(['gateway', 'id'], 'another-gateway')),
        file,
      );
      const refused = await gw.reload(moved);
      expect(refused).toMatchObject({ state: 'rejected', configHash: after.configHash });
      expect(refused.state === 'rejected' && refused.reason).toContain('gateway.id');
      expect(Object.keys(gw.deviceStatus())).toEqual(['potline', 'potline-dc-meter', 'ladle-scale']);
    } finally {
      await gw.stop();
      await stop();
    }
  }, 180_000);

  it('mrv gateway: SIGHUP with a broken file keeps the running configuration; the fixed file is taken', async () => {
    const dir = mkdtempSync(join(tmp, 'cli-'));
    const file = join(dir, 'site.yaml');
    writeFileSync(file, siteText());
    const unitId = parseSiteConfig(readFileSync(file, 'utf8'), file).site.unit.id;
    const { batches, stop } = await subscribe(unitId);
    const gw = await spawnTied(process.execPath, [join(root, 'bin/mrv.js'), 'gateway', '-c', file], {
      cwd: dir,
      env: { ...process.env, MRV_LOG_LEVEL: 'info' },
    });
    try {
      const tail = () => gw.tail();
      // A SIGHUP while it is still starting (`systemctl reload` right after start) does not end it:
      // once running it reloads the (unchanged) file. (On a quick machine the start may be over
      // before the signal lands: then it is an ordinary SIGHUP.)
      await waitFor(() => /loading the site file/.test(gw.tail()), 'the start', 60_000, tail);
      gw.child.kill('SIGHUP');
      await waitFor(
        () => /"why":"SIGHUP( while starting)?".*site file unchanged/.test(gw.tail()),
        'the reload after the start',
        60_000,
        tail,
      );
      // Started from the site's folder, as systemd starts it from `/`: the site loader's child must
      // not depend on the working directory (it once looked for tsx there and never answered).
      await waitFor(() => batches.size >= 5 || !gw.running(), 'first batches', 90_000, tail);
      expect(gw.running(), gw.tail()).toBe(true);
      writeFileSync(file, readFileSync(file, 'utf8').replace('type: float32', 'type: float24'));
      gw.child.kill('SIGHUP');
      await waitFor(
        () => /not reloaded: it has problems/.test(gw.tail()),
        'the refusal in the log',
        60_000,
        tail,
      );
      const refusal = gw
        .tail()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => /not reloaded: it has problems/.test(String(l.msg)));
      // Each problem with the file, line and column, the YAML path and what is expected.
      expect(refusal).toMatchObject({ file, why: 'SIGHUP', code: 'MRV_E_CONFIG' });
      expect(refusal?.problems).toEqual([
        expect.stringMatching(/site\.yaml:\d+:\d+ devices\[0\]\.points\[0\]\.type: Invalid option.*float32/),
      ]);
      const n = batches.size;
      await waitFor(() => batches.size >= n + 5, 'batches after the refused reload', 60_000, tail);
      expect([...batches.values()].some((b) => b.config)).toBe(false);
      writeFileSync(
        file,
        siteText((doc) => doc.setIn(['devices', 1, 'timeoutMs'], 12_000)),
      );
      gw.child.kill('SIGHUP');
      await waitFor(() => [...batches.values()].some((b) => b.config), 'the declaring batch', 60_000, tail);
      const declared = [...batches.values()].find((b) => b.config)?.config;
      expect(declared?.changed).toEqual(['potline-dc-meter']);
      expect(gw.running()).toBe(true);
      // Nothing but JSON log lines: the loader's child writes nothing into the gateway's log.
      for (const line of gw.tail().split('\n')) expect(() => JSON.parse(line), line).not.toThrow();
    } finally {
      await gw.stop();
      await stop();
    }
  }, 240_000);
});
