/**
 * The findings workflow in a real browser (Debian's Chromium via playwright-core, as
 * dashboard-browser.test.ts) against a real server, embedded store and SQLite state database: the
 * enterprise logs in with username and password and explains a finding with a PDF attached, the
 * regulator logs in, filters the explained findings and closes it. Screenshots land in
 * `test-results/dashboard/` (gitignored).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { buildServer } from '../../server/app.ts';
import { FailureLimiter } from '../../server/auth.ts';
import { StateStore } from '../../server/state/state-store.ts';
import { TokenFile } from '../../server/tokens.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { finding } from './state-contract.ts';

const root = new URL('../..', import.meta.url).pathname;
const SHOTS = join(root, 'test-results/dashboard');
const UNIT = '91150000WORKFLOW1X';
const PASSWORD = 'a long enough password';

let dir: string;
let store: SqliteStore;
let state: StateStore;
let app: FastifyInstance;
let url: string;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'mrv-findings-browser-'));
  store = new SqliteStore({ path: join(dir, 'mrv.sqlite') });
  await store.start();
  await store.writeMeta(UNIT, {
    v: 1,
    gatewayId: 'gw-1',
    unit: { id: UNIT, name: '示范电解铝厂', industry: 'aluminium', province: '内蒙古' },
    points: [{ id: 'p1', device: 'd1', unit: 't', aggregation: 'gauge' }],
    meters: [],
    configHash: 'a'.repeat(64),
  });
  const ts = new Date(Date.now() - 3_600_000).toISOString();
  await store.writeFindings([finding('wf-1', UNIT, { ts, at: ts })]);
  state = await StateStore.open(join(dir, 'state.sqlite'));
  const cli = { id: 'cli:test', role: 'cli' as const };
  await state.addAccount(
    {
      username: 'ent',
      password: PASSWORD,
      role: 'enterprise',
      scope: { provinces: [], units: [UNIT] },
      displayName: '企业填报员',
    },
    cli,
  );
  await state.addAccount(
    {
      username: 'reg',
      password: PASSWORD,
      role: 'regulator',
      scope: { provinces: ['内蒙古'], units: [] },
      displayName: '监管员',
    },
    cli,
  );
  app = buildServer({
    units: new UnitRegistry([
      { id: UNIT, name: '示范电解铝厂', industry: 'aluminium', province: '内蒙古', gateways: ['gw-1'] },
    ]),
    store,
    live: new LiveHub(),
    tokens: TokenFile.inDataDir(dir),
    state,
    loginLimiter: new FailureLimiter({ max: 50 }),
    version: 'test',
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await state?.close();
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function loginAs(username: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${url}/classic/#/login`);
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('#account-login button[type="submit"]');
  await page.waitForSelector('#units-table');
  return page;
}

describe('findings workflow in Chromium', () => {
  it('the enterprise explains a finding with an attachment; the regulator closes it', async () => {
    const ent = await loginAs('ent');
    const count = (p: Page) =>
      p
        .locator(`#units-table tr[data-unit-id="${UNIT}"] [data-field="findings"] a`)
        .getAttribute('data-count');
    await expect.poll(() => count(ent), { timeout: 15_000 }).toBe('1');
    await ent.goto(`${url}/classic/#/units/${UNIT}/findings`);
    const row = ent.locator('tr[data-finding-id="wf-1"]');
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('open');
    expect(
      await row
        .locator('button[data-action]')
        .evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action'))),
    ).toEqual(['acknowledge', 'explain']);
    await row
      .locator('textarea[name="explanation"]')
      .fill('网关停电，已补传 / gateway power loss, data re-sent');
    await row.locator('input[type="file"]').setInputFiles({
      name: '停电记录.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.from('%PDF-1.4\n% outage log\n'),
    });
    await row.locator('button[data-action="explain"]').click();
    await expect
      .poll(() => ent.locator('tr[data-finding-id="wf-1"]').getAttribute('data-state'), { timeout: 15_000 })
      .toBe('explained');
    expect(
      await ent.locator('tr[data-finding-id="wf-1"] [data-field="explanation"]').textContent(),
    ).toContain('gateway power loss');
    expect(await ent.locator('tr[data-finding-id="wf-1"] button[data-action]').count()).toBe(0);
    await ent.screenshot({ path: join(SHOTS, 'findings-explained-enterprise.png'), fullPage: true });
    await ent.context().close();

    const reg = await loginAs('reg');
    await reg.goto(`${url}/classic/#/units/${UNIT}/findings?state=explained`);
    const rrow = reg.locator('tr[data-finding-id="wf-1"]');
    await rrow.waitFor();
    const link = rrow.locator('a[data-field="attachment"]');
    expect(await link.textContent()).toContain('停电记录.pdf');
    const file = await reg.evaluate(
      async (href) => {
        const r = await fetch(href);
        return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
      },
      (await link.getAttribute('href'))!,
    );
    expect(file).toEqual({ status: 200, type: 'application/pdf', text: '%PDF-1.4\n% outage log\n' });
    await rrow.locator('input[name="comment"]').fill('说明属实 / accepted');
    await rrow.locator('button[data-action="close"]').click();
    // The page re-renders with the filter still on explained: the closed finding leaves the list.
    await expect.poll(() => reg.locator('tr[data-finding-id="wf-1"]').count(), { timeout: 15_000 }).toBe(0);
    await reg.goto(`${url}/classic/#/units/${UNIT}/findings?state=closed`);
    await reg.locator('tr[data-finding-id="wf-1"][data-state="closed"]').waitFor();
    expect(await reg.locator('tr[data-finding-id="wf-1"] [data-field="comment"]').textContent()).toContain(
      'accepted',
    );
    await reg.screenshot({ path: join(SHOTS, 'findings-closed-regulator.png'), fullPage: true });
    // The overview counts open findings only: the closed one is not among them.
    await reg.goto(`${url}/classic/#/`);
    await expect.poll(() => count(reg), { timeout: 15_000 }).toBe('0');
    const history = await reg.evaluate(async () =>
      (await (await fetch('/api/v1/findings/wf-1')).json()).history.map(
        (e: { action: string; actor: string }) => `${e.action} ${e.actor}`,
      ),
    );
    expect(history).toEqual(['finding.explain account:ent', 'finding.close account:reg']);
    await reg.context().close();
  }, 120_000);

  it('raised no script error', () => {
    expect(pageErrors).toEqual([]);
  });
});
