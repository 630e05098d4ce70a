/**
 * The Vue dashboard at /app/ (dashboard/, docs/architecture.md §8, the Vue dashboard) in a real browser (Debian's
 * Chromium driven by playwright-core) against the demo's pipeline (`helpers/dashboard-stack.ts`)
 * with 300 more registered units and a state database with accounts:
 * - every page in both languages at 1366 × 768: no horizontal scroll, no console error, no i18n key
 *   and no raw enum id on the page; screenshots in `test-results/vue-dashboard/`;
 * - the overview asks one `GET /api/v1/summary` (no evidence, no per-unit completeness), and its
 *   search, filters, sort and pagination work over the 302 units.
 * Builds the dashboard first when server/web-app/ is missing or older than dashboard/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { en } from '../../dashboard/src/i18n/en.ts';
import { zhCN } from '../../dashboard/src/i18n/zh-CN.ts';
import { pickLang } from '../../dashboard/src/lib/format.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import {
  BULK_PROVINCES,
  bulkUnit,
  type DashboardStack,
  STACK_PASSWORD,
  startDashboardStack,
} from '../helpers/dashboard-stack.ts';

const root = new URL('../..', import.meta.url).pathname;
const SHOTS = join(root, 'test-results/vue-dashboard');
const BULK = 300;
const VIEWPORT = { width: 1366, height: 768 };

/** Newest mtime under `dir`, ms. */
function newest(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n = Math.max(n, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return n;
}

/** The message groups: a text like `overview.colUnit` on the page is a key that was not translated. */
const KEY_PATTERN = new RegExp(`(?<![\\w.])(?:${Object.keys(zhCN).join('|')})\\.[A-Za-z_][\\w-]*`);
/** Enum ids the API answers that must never stand on a page as they are (whole tokens only). */
const RAW_IDS = [
  ...Object.keys(zhCN.meterKind),
  ...Object.keys(zhCN.calibration),
  ...Object.keys(zhCN.completeness),
  ...Object.keys(zhCN.unitStatus),
  ...Object.keys(zhCN.role),
  ...Object.keys(zhCN.industry),
  'authEnabled',
].filter((id) => id !== 'other');
const rawPattern = (ids: string[]) =>
  new RegExp(`(?<![\\w-])(?:${ids.map((s) => s.replace(/[-]/g, '\\-')).join('|')})(?![\\w-])`);
/** On a Chinese page no enum id at all; on an English one plain words (admin, open) are English. */
const RAW_PATTERN = {
  'zh-CN': rawPattern(RAW_IDS),
  en: rawPattern(RAW_IDS.filter((id) => /[-_A-Z]/.test(id))),
};

let dir: string;
let stack: DashboardStack;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
/** Answers ≥ 400 (`METHOD path status`), less the expected ones: the session check before login. */
const failedResponses: string[] = [];
const apiCalls: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

async function setLang(lang: 'zh-CN' | 'en'): Promise<void> {
  await page.locator(`label[data-lang="${lang}"], [data-lang="${lang}"]`).first().click();
  await expect.poll(() => page.getAttribute('html', 'lang')).toBe(lang);
}

/** The checks every page passes: fits 1366 px, no console error, no key, no raw enum id. */
async function checkPage(name: string, lang: 'zh-CN' | 'en'): Promise<void> {
  // Let charts and late cells settle (the page's own requests are done when the network is idle).
  await page.waitForLoadState('networkidle');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width, `${name} (${lang}) is ${width} px wide`).toBeLessThanOrEqual(VIEWPORT.width);
  // Text people chose or the server cites (usernames, token names: `.cited`) may look like an enum id (`admin`).
  const text = await page.evaluate(() => {
    const verbatim = [...document.querySelectorAll<HTMLElement>('.cited')];
    for (const e of verbatim) e.style.display = 'none';
    const t = document.body.innerText;
    for (const e of verbatim) e.style.display = '';
    return t;
  });
  expect(text, `${name} (${lang}) shows an i18n key`).not.toMatch(KEY_PATTERN);
  const raw = RAW_PATTERN[lang].exec(text);
  expect(
    raw && text.slice(Math.max(0, raw.index - 40), raw.index + 40),
    `${name} (${lang}) shows a raw enum id`,
  ).toBeNull();
  if (lang === 'en') {
    // Nothing of the Chinese chrome is left in English (unit names may stay Chinese).
    expect(text).not.toContain(zhCN.nav.overview);
  }
  expect(consoleErrors, `${name} (${lang})`).toEqual([]);
  expect(failedResponses, `${name} (${lang})`).toEqual([]);
  await shot(`${name}-${lang}`);
}

async function loginAs(username: string): Promise<void> {
  await page.goto(`${stack.url}/app/#/login`);
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(STACK_PASSWORD);
  await page.locator('[data-action="login"]').click();
  await page.locator('[data-table="units"]').waitFor();
}

const rows = () => page.locator('[data-table="units"] .el-table__body tr');
const firstUnitId = () => rows().first().locator('[data-unit-id]').getAttribute('data-unit-id');

async function choose(filter: string, label: string): Promise<void> {
  await page.locator(`.filter-${filter}`).click();
  await page.locator('.el-select-dropdown__item:visible', { hasText: label }).first().click();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const index = join(root, 'server/web-app/index.html');
  if (!existsSync(index) || statSync(index).mtimeMs < newest(join(root, 'dashboard')))
    execFileSync(process.execPath, [join(root, 'scripts/build-dashboard.mjs')], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'mrv-vue-dashboard-'));
  stack = await startDashboardStack(dir, { extraUnits: BULK, accounts: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: VIEWPORT });
  page.on('console', (m) => {
    // Chromium logs every answer ≥ 400 as "Failed to load resource"; those are judged by URL below.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text());
  });
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    const method = r.request().method();
    if (r.status() < 400) return;
    if (r.status() === 401 && path === '/api/v1/session' && method === 'GET') return; // signed out: to the login
    failedResponses.push(`${method} ${path} ${r.status()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  page.on('request', (r) => {
    if (r.url().includes('/api/')) apiCalls.push(new URL(r.url()).pathname);
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Vue dashboard in Chromium at 1366 × 768', () => {
  it('shows the login in Chinese by default, then English, and refuses a wrong password', async () => {
    await page.goto(`${stack.url}/app/`);
    await page.locator('form.login').waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    expect(await page.locator('h1').textContent()).toBe(zhCN.login.heading);
    // The server's CSP stands on the page (no inline script needed).
    const res = await fetch(`${stack.url}/app/`);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    await checkPage('login', 'zh-CN');
    await page.locator('input[name="username"]').fill('admin');
    await page.locator('input[name="password"]').fill('wrong password');
    await page.locator('[data-action="login"]').click();
    await expect
      .poll(() => page.locator('[data-field="login-error"]').textContent())
      .toContain(zhCN.login.failed);
    expect(failedResponses).toEqual(['POST /api/v1/session 401']);
    failedResponses.length = 0;
    await setLang('en');
    expect(await page.locator('h1').textContent()).toBe(en.login.heading);
    await checkPage('login', 'en');
    await setLang('zh-CN');
  });

  it('logs in with username and password and shows the overview from one summary request', async () => {
    apiCalls.length = 0;
    await loginAs('admin');
    await expect.poll(() => page.locator('[data-total="units"] .n').textContent()).toBe(String(BULK + 2));
    expect(await page.locator('[data-field="who"]').textContent()).toContain(zhCN.role.admin);
    expect(apiCalls.filter((p) => p === '/api/v1/summary')).toHaveLength(1);
    expect(apiCalls.filter((p) => p.includes('/evidence/') || p.includes('/completeness'))).toEqual([]);
    // A third of the bulk units report online, a third offline, a third never; the demo unit is live.
    const online = Number(await page.locator('[data-total="online"] .n').textContent());
    const never = Number(await page.locator('[data-total="no_data"] .n').textContent());
    // the other-province unit has never sent a reading either; the demo unit may not have yet
    expect(never).toBeGreaterThanOrEqual(BULK / 3 + 1);
    expect(never).toBeLessThanOrEqual(BULK / 3 + 2);
    expect(online).toBeGreaterThanOrEqual(BULK / 3);
    await expect.poll(() => rows().count()).toBe(20);
    await checkPage('overview', 'zh-CN');
    await setLang('en');
    expect(await page.locator('#overview-heading').textContent()).toBe(en.overview.heading);
    await checkPage('overview', 'en');
    await setLang('zh-CN');
  });

  it('searches, filters, sorts and paginates 302 units', async () => {
    // search by id
    const target = bulkUnit(123);
    await page.locator('.filter-search input').fill('BULK0123');
    await expect.poll(() => rows().count()).toBe(1);
    expect(await firstUnitId()).toBe(target.id);
    // search by name
    await page.locator('.filter-search input').fill(target.name);
    await expect.poll(() => rows().count()).toBe(1);
    expect(await firstUnitId()).toBe(target.id);
    await page.locator('.filter-search input').fill('');
    await expect.poll(() => rows().count()).toBe(20);

    // filter by province: every row shows it, and the pager counts what the seed put there
    const province = BULK_PROVINCES[1];
    const expected =
      Array.from({ length: BULK }, (_, i) => bulkUnit(i)).filter((u) => u.province === province).length +
      (stack.unitProvince === province ? 1 : 0);
    await choose('province', province);
    await expect
      .poll(() => page.locator('.pager-units .el-pagination__total').textContent())
      .toContain(String(expected));
    for (const cell of await rows().locator('td:nth-child(2)').allTextContents())
      expect(cell.trim()).toBe(province);

    // and by status: never reported (over every province)
    await choose('province', zhCN.overview.all);
    await choose('status', zhCN.unitStatus.no_data);
    await expect
      .poll(async () => (await rows().locator('[data-field="status"]').allTextContents()).length)
      .toBeGreaterThan(0);
    const statuses = await rows()
      .locator('[data-field="status"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    expect(new Set(statuses)).toEqual(new Set(['no_data']));
    await choose('status', zhCN.overview.all);
    await expect
      .poll(() => page.locator('.pager-units .el-pagination__total').textContent())
      .toContain(String(BULK + 2));

    // sort by unit name, descending: the order of the names as shown, by the Chinese collation
    const summary = (await (
      await fetch(`${stack.url}/api/v1/summary`, { headers: { authorization: `Bearer ${stack.adminToken}` } })
    ).json()) as { units: { id: string; name: string }[] };
    const collator = new Intl.Collator('zh-CN');
    const expectedOrder = summary.units
      .map((u) => ({ id: u.id, name: pickLang(u.name, 'zh-CN') }))
      .sort((a, b) => -collator.compare(a.name, b.name) || (a.id < b.id ? -1 : 1))
      .map((u) => u.id);
    expect(expectedOrder).toHaveLength(BULK + 2);
    const header = page.locator('[data-table="units"] th', { hasText: zhCN.overview.colUnit });
    await header.click(); // ascending
    await expect.poll(firstUnitId).toBe(expectedOrder.at(-1));
    await header.click(); // descending
    await expect.poll(firstUnitId).toBe(expectedOrder[0]);

    // paginate: page 2 starts with the 21st unit of the same order
    await page.locator('.pager-units .el-pager li', { hasText: /^2$/ }).click();
    await expect.poll(firstUnitId).toBe(expectedOrder[20]);
    await shot('overview-sorted-page2');
    expect(consoleErrors).toEqual([]);
  });

  it('shows a unit: points with translated units of measure, a trend chart and meters with calibration', async () => {
    await page.goto(`${stack.url}/app/#/units/${stack.unitId}`);
    await page.locator('[data-table="points"] .el-table__body tr').first().waitFor();
    await page.locator('[data-table="meters"] .el-table__body tr').first().waitFor();
    await page.locator('[data-chart="trend"] canvas').waitFor();
    const kinds = await page.locator('[data-field="kind"]').allTextContents();
    expect(kinds).toContain(zhCN.meterKind['crane-scale']);
    expect(await page.locator('[data-table="points"]').textContent()).toContain(zhCN.uom.kA);
    await checkPage('unit', 'zh-CN');
    await setLang('en');
    await expect
      .poll(() => page.locator('[data-field="kind"]').allTextContents())
      .toContain(en.meterKind['crane-scale']);
    await checkPage('unit', 'en');
    await setLang('zh-CN');
  });

  it('shows the admin page to an admin: accounts, tokens, every configuration key translated, the audit log', async () => {
    apiCalls.length = 0;
    await page.locator('[data-nav="admin"]').click();
    await page.locator('[data-table="accounts"] [data-username="regulator"]').waitFor();
    await page.locator('[data-table="audit"] [data-action-code="session.login"]').first().waitFor();
    // The logins of this test run are in the audit log, translated, the newest first.
    const actions = await page.locator('[data-table="audit"] [data-action-code]').allTextContents();
    expect(actions[0]?.trim()).toBe(zhCN.auditAction['session.login']);
    // Every key the server's config view answers has a label of its own: none is shown as it is.
    const config = (await (
      await fetch(`${stack.url}/api/v1/admin/config`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      })
    ).json()) as Record<string, unknown>;
    const labels = await page.locator('[data-table="config"] .el-descriptions__label').allTextContents();
    expect(labels).toHaveLength(Object.keys(config).length);
    for (const key of Object.keys(config))
      expect(
        labels.map((l) => l.trim()),
        key,
      ).toContain(zhCN.configKey[key as keyof typeof zhCN.configKey]);
    expect(await page.locator('[data-config="authEnabled"]').textContent()).toBe(zhCN.admin.yes);
    expect(apiCalls).toEqual(
      expect.arrayContaining([
        '/api/v1/admin/tokens',
        '/api/v1/admin/accounts',
        '/api/v1/admin/config',
        '/api/v1/audit',
      ]),
    );
    await checkPage('admin', 'zh-CN');
    await setLang('en');
    await expect.poll(() => page.locator('[data-config="authEnabled"]').textContent()).toBe(en.admin.yes);
    await checkPage('admin', 'en');
    await setLang('zh-CN');
  });

  it('keeps the admin page from a regulator: no nav entry, a notice, no admin request', async () => {
    await page.locator('[data-action="logout"]').click();
    await page.locator('form.login').waitFor();
    await loginAs('regulator');
    expect(await page.locator('[data-nav="admin"]').count()).toBe(0);
    apiCalls.length = 0;
    await page.goto(`${stack.url}/app/#/admin`);
    await page.locator('[data-field="forbidden"]').waitFor();
    expect(apiCalls.filter((p) => p.startsWith('/api/v1/admin') || p === '/api/v1/audit')).toEqual([]);
    await checkPage('admin-forbidden', 'zh-CN');
  });
});
