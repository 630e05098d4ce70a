// `mrv keygen`, `mrv export-batches` and `mrv verify` as a user runs them: a gateway key, a store whose
// archive holds a signed chain, one archived batch tampered with, and the verifier naming it.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { IntegrityChecker } from '../../collector/integrity.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { type Batch, GENESIS_HASH } from '../../core/schema/wire.ts';
import { batchHash, parsePrivateKey, signBatch } from '../../core/signing.ts';
import { budget } from '../helpers/budget.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = path.join(root, 'bin/mrv.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-verify-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = await spawnTied(process.execPath, [mrv, ...args], { cwd: root });
  const { code } = await p.exited;
  return { code, out: p.tail() };
}

describe('mrv keygen / export-batches / verify', () => {
  const keys = path.join(tmp, 'keys');
  const sqlite = path.join(tmp, 'store.sqlite');

  it(
    'makes a key pair: a private key only its owner reads and a registry entry',
    async () => {
      const r = await run('keygen', '--gateway', 'gw1', '--unit', 'U1', '--out', keys);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/gw1\.key\.pem/);
      expect(statSync(path.join(keys, 'gw1.key.pem')).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(path.join(keys, 'gw1.pub.json'), 'utf8'))[0]).toMatchObject({
        gatewayId: 'gw1',
        unitId: 'U1',
      });
      const noUnit = await run('keygen', '--gateway', 'gw1', '--out', keys);
      expect(noUnit.code).toBe(1);
      expect(noUnit.out).toMatch(/MRV_E_CONFIG: missing --unit ID/);
      const noGateway = await run('keygen', '--unit', 'U1', '--out', keys);
      expect(noGateway.code).toBe(1);
      expect(noGateway.out).toMatch(/MRV_E_CONFIG: missing --gateway ID/);
      const again = await run('keygen', '--gateway', 'gw1', '--unit', 'U1', '--out', keys);
      expect(again.code).toBe(1);
      expect(again.out).toMatch(/MRV_E_KEY: .*exists; pass --rotate/);
    },
    budget({ cliRuns: 4 }),
  );

  it(
    'verifies an intact archive, then names the first broken link after one batch is tampered with',
    async () => {
      const key = parsePrivateKey(readFileSync(path.join(keys, 'gw1.key.pem'), 'utf8'));
      const store = new SqliteStore({ path: sqlite });
      await store.start();
      let prev = GENESIS_HASH;
      const batches: Batch[] = [];
      for (let seq = 1; seq <= 6; seq++) {
        const ts = new Date(Date.UTC(2026, 2, 1, 0, 0, seq)).toISOString();
        const b = signBatch(
          {
            v: 1,
            unitId: 'U1',
            gatewayId: 'gw1',
            seq,
            prevHash: prev,
            sentAt: ts,
            readings: [{ point: 'p', ts, rxTs: ts, value: `${seq}00.25`, quality: 'good' }],
          },
          key,
        );
        prev = batchHash(b);
        batches.push(b);
      }
      const checker = new IntegrityChecker({ keys: loadKeyRegistry(keys) });
      const plan = await checker.plan(
        batches.map((batch) => ({ batch, receivedAt: Date.now() })),
        store,
        Date.now(),
      );
      await store.archiveBatches(plan.archive);
      await store.stop();

      const ok = await run(
        'verify',
        '--keys',
        keys,
        '--store',
        'sqlite',
        '--sqlite',
        sqlite,
        '--unit',
        'U1',
        '--gateway',
        'gw1',
      );
      expect(ok.out).toMatch(/U1\/gw1: 6 batches, seq 1\.\.6: OK/);
      expect(ok.code).toBe(0);

      const exportFile = path.join(tmp, 'gw1.jsonl');
      const ex = await run(
        'export-batches',
        '--store',
        'sqlite',
        '--sqlite',
        sqlite,
        '--unit',
        'U1',
        '--gateway',
        'gw1',
        '--out',
        exportFile,
      );
      expect(ex.code).toBe(0);
      expect(readFileSync(exportFile, 'utf8').trim().split('\n')).toHaveLength(6);

      // Someone edits batch 4 in the archive: 400.25 t becomes 490.25 t (the store keeps the canonical
      // bytes raw-deflated, collector/sqlite-store.ts).
      const db = new Database(sqlite);
      const row = db.prepare<[], { canonical: Buffer }>('SELECT canonical FROM batch WHERE seq = 4').get();
      const text = inflateRawSync(row?.canonical ?? Buffer.alloc(0)).toString('utf8');
      expect(text).toContain('400.25');
      db.prepare('UPDATE batch SET canonical = ? WHERE seq = 4').run(
        deflateRawSync(Buffer.from(text.replace('400.25', '490.25'), 'utf8')),
      );
      db.close();
      const bad = await run(
        'verify',
        '--keys',
        keys,
        '--store',
        'sqlite',
        '--sqlite',
        sqlite,
        '--unit',
        'U1',
        '--gateway',
        'gw1',
      );
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/BROKEN/);
      expect(bad.out).toMatch(/first broken link: seq 4: MRV_F_BAD_SIGNATURE/);
      expect(bad.out).toMatch(/seq 5: MRV_F_CHAIN_BROKEN/);

      // The exported file verifies offline with only the public keys; a removed line is a gap.
      const fromFile = await run(
        'verify',
        '--keys',
        path.join(keys, 'gw1.pub.json'),
        '--batches',
        exportFile,
      );
      expect(fromFile.code).toBe(0);
      const lines = readFileSync(exportFile, 'utf8').trim().split('\n');
      writeFileSync(exportFile, `${lines.filter((_, i) => i !== 2).join('\n')}\n`);
      const gap = await run('verify', '--keys', keys, '--batches', exportFile);
      expect(gap.code).toBe(1);
      expect(gap.out).toMatch(/first broken link: seq 4: MRV_F_SEQ_GAP: batches 3\.\.3 are missing/);
    },
    budget({ cliRuns: 5 }),
  );
});
