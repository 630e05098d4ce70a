/**
 * The Vue dashboard's monthly evidence (月度存证) page, its confirmation and the regulator's
 * confirmations page in a real browser (Debian's Chromium driven by playwright-core) against the demo
 * pipeline (`helpers/dashboard-stack.ts`) with 300 more registered units, a state database, a
 * regulator, an admin and an enterprise account of the demo unit; the previous month seeded with
 * readings of the key-parameter points every 10 minutes (so it is ended, monitored and incomplete):
 * - the enterprise opens the previous month: content status "incomplete" first, its signature "not
 *   checked" (the verify route is the regulator's); confirming without a comment is refused by the API
 *   and the refusal shown translated; with a comment it is version 1: the receipt and the frozen package
 *   downloaded from the page pass the real `mrv verify RECEIPT --package FILE`;
 * - the same enterprise cannot open another unit's evidence: the page says not allowed, the API 403;
 * - a correction is version 2, citing version 1's digest;
 * - the regulator sees the signature verified, marks version 2 reviewed, and the confirmations page
 *   shows the unit "reviewed"; the admin's confirmations page lists, filters, sorts and paginates 302 units;
 * - a month before the first data shows "no data", not monitored, and no green badge at all;
 * - every page in both languages at 1366 × 768: no horizontal scroll, no console error, no i18n key,
 *   no raw enum id; screenshots in `test-results/vue-dashboard/`.
 * Builds the dashboard first when server/web-app/ is missing or older than dashboard/.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../collector/store.ts';
import { en } from '../../dashboard/src/i18n/en.ts';
import { zhCN } from '../../dashboard/src/i18n/zh-CN.ts';
import { currentMonth, monthMinus, SHOWN_STATES, shownState } from '../../dashboard/src/lib/evidence.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import {
  bulkUnit,
  type DashboardStack,
  OTHER_UNIT,
  STACK_PASSWORD,
  startDashboardStack,
} from '../helpers/dashboard-stack.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const SHOTS = join(root, 'test-results/vue-dashboard');
const BULK = 300;
/** Bulk units (all aluminium) given a key-parameter reading in the month: open on the confirmations page. */
const OPEN_BULK = [3, 7, 11, 15, 19];
const VIEWPORT = { width: 1366, height: 768 };
const mrv = join(root, 'bin/mrv.js');
/** A package build reads a whole month; on a busy 2-core machine that can take a while. */
const SLOW = { timeout: 120_000 };

/** The month seeded with data (ended, monitored, incomplete) and one long before the first data. */
const MONTH = monthMinus(currentMonth(), 1);
const EMPTY_MONTH = monthMinus(currentMonth(), 6);

/** Newest mtime under `dir`, ms. */
function newest(d: string): number {
  let n = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    n = Math.max(n, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return n;
}

/** The message groups: a text like `evidence.colValue` on the page is a key that was not translated. */
const KEY_PATTERN = new RegExp(`(?<![\\w.])(?:${Object.keys(zhCN).join('|')})\\.[A-Za-z_][\\w-]*`);
/** Enum ids the evidence and confirmation routes answer that must never stand on a page as they are. */
const RAW_IDS = [
  ...Object.keys(zhCN.evidence.reasons),
  ...Object.keys(zhCN.evidence.method),
  ...Object.keys(zhCN.evidence.issue),
  ...Object.keys(zhCN.confirmation.state),
  ...Object.keys(zhCN.confirmations.shown),
  ...Object.keys(zhCN.evidence.status),
  ...Object.keys(zhCN.role),
];
const rawPattern = (ids: string[]) =>
  new RegExp(`(?<![\\w-])(?:${[...new Set(ids)].map((s) => s.replace(/[-]/g, '\\-')).join('|')})(?![\\w-])`);
/** On a Chinese page no enum id at all; on an English one plain words (complete, measured) are English. */
const RAW_PATTERN = {
  'zh-CN': rawPattern(RAW_IDS),
  en: rawPattern(RAW_IDS.filter((id) => /[-_A-Z]/.test(id))),
};

/** The literal Chinese parts (≥ 4 characters) of this page's messages. */
const ZH_TEXTS = (() => {
  const out = new Set<string>();
  const walk = (o: unknown): void => {
    if (typeof o === 'string') {
      for (const part of o.split(/\{[^}]*\}/))
        if (part.trim().length >= 4 && /[\u3400-\u9fff]/.test(part)) out.add(part.trim());
    } else if (o && typeof o === 'object') for (const v of Object.values(o)) walk(v);
  };
  walk([zhCN.evidence, zhCN.confirmation, zhCN.confirmations, zhCN.nav]);
  return [...out];
})();

let dir: string;
let stack: DashboardStack;
let browser: Browser;

/** A signed-in browser context with its page and what went wrong on it. */
interface Session {
  context: BrowserContext;
  page: Page;
  consoleErrors: string[];
  /** Answers ≥ 400 (`METHOD path status`), less the session check before login. */
  failed: string[];
}
const sessions: Session[] = [];

async function open(username: string): Promise<Session> {
  const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
  const page = await context.newPage();
  const s: Session = { context, page, consoleErrors: [], failed: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      s.consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => s.consoleErrors.push(err.message));
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    const method = r.request().method();
    if (r.status() < 400) return;
    if (r.status() === 401 && path === '/api/v1/session' && method === 'GET') return;
    s.failed.push(`${method} ${path} ${r.status()}`);
  });
  await page.goto(`${stack.url}/app/#/login`);
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(STACK_PASSWORD);
  await page.locator('[data-action="login"]').click();
  await page.locator('[data-table="units"]').waitFor();
  sessions.push(s);
  return s;
}

async function setLang(s: Session, lang: 'zh-CN' | 'en'): Promise<void> {
  await s.page.locator(`label[data-lang="${lang}"], [data-lang="${lang}"]`).first().click();
  await expect.poll(() => s.page.getAttribute('html', 'lang')).toBe(lang);
}

/** The checks every page passes: fits 1366 px, no console error, no failed answer, no key, no raw enum. */
async function checkPage(s: Session, name: string, lang: 'zh-CN' | 'en'): Promise<void> {
  await s.page.waitForLoadState('networkidle');
  const width = await s.page.evaluate(() => document.documentElement.scrollWidth);
  expect(width, `${name} (${lang}) is ${width} px wide`).toBeLessThanOrEqual(VIEWPORT.width);
  const text = await s.page.evaluate(() => document.body.innerText);
  expect(text.match(KEY_PATTERN)?.[0], `${name} (${lang}) shows an i18n key`).toBeUndefined();
  // Text cited as the server wrote it (unit names, formulas, factor sources, emission notes) is not ours to translate.
  const own = await s.page.evaluate(() => {
    const cited = [...document.querySelectorAll<HTMLElement>('.cited')];
    for (const e of cited) e.style.display = 'none';
    const t = document.body.innerText;
    for (const e of cited) e.style.display = '';
    return t;
  });
  expect(own.match(RAW_PATTERN[lang])?.[0], `${name} (${lang}) shows a raw enum id`).toBeUndefined();
  if (lang === 'en') {
    // None of our Chinese texts is left on the English page (unit names and comments may stay Chinese).
    const left = ZH_TEXTS.filter((z) => own.includes(z));
    expect(left, `${name} (en) keeps Chinese texts`).toEqual([]);
  }
  expect(s.consoleErrors, `${name} (${lang})`).toEqual([]);
  expect(s.failed, `${name} (${lang})`).toEqual([]);
  await s.page.screenshot({ path: join(SHOTS, `${name}-${lang}.png`), fullPage: true });
}

/** Both languages of the page shown now. */
async function checkBoth(s: Session, name: string, probe: string, zh: string, english: string) {
  await expect.poll(() => s.page.locator(probe).first().textContent(), SLOW).toContain(zh);
  await checkPage(s, name, 'zh-CN');
  await setLang(s, 'en');
  try {
    await expect.poll(() => s.page.locator(probe).first().textContent()).toContain(english);
    await checkPage(s, name, 'en');
  } finally {
    await setLang(s, 'zh-CN');
  }
}

async function openEvidence(s: Session, unitId: string, month: string): Promise<void> {
  await s.page.goto(`${stack.url}/app/#/units/${encodeURIComponent(unitId)}/evidence/${month}`);
  await s.page.locator('[data-field="content-status"], [data-field="not-allowed"]').first().waitFor(SLOW);
}

async function run(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = await spawnTied(process.execPath, [mrv, ...args], { cwd: root });
  const { code } = await p.exited;
  return { code, out: p.tail() };
}

/** Readings of the key-parameter points over `month` every 10 minutes (no ladle tickets: incomplete). */
function seedMonth(unitId: string, gatewayId: string, month: string): StoredReading[] {
  const from = Date.parse(`${month}-01T00:00:00+08:00`);
  const to = Date.parse(`${monthMinus(month, -1)}-01T00:00:00+08:00`);
  const out: StoredReading[] = [];
  const step = 600_000;
  for (let ts = from, i = 0; ts < to; ts += step, i++) {
    const base = { unitId, gatewayId, ts, rxTs: ts + 20, quality: 'good' as const, seq: 0 };
    out.push(
      { ...base, device: 'anode-scale', point: 'anode.set_total', value: (1000 + i * 0.5).toFixed(3) },
      { ...base, device: 'anode-scale', point: 'anode.butt_total', value: (200 + i * 0.1).toFixed(3) },
      { ...base, device: 'potline', point: 'potline.cell_count', value: '240' },
      { ...base, device: 'potline', point: 'potline.ae_seconds', value: String(i * 2) },
    );
  }
  return out;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const index = join(root, 'server/web-app/index.html');
  if (!existsSync(index) || statSync(index).mtimeMs < newest(join(root, 'dashboard')))
    execFileSync(process.execPath, [join(root, 'scripts/build-dashboard.mjs')], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'mrv-vue-evidence-'));
  stack = await startDashboardStack(dir, { extraUnits: BULK, accounts: true });
  await stack.store.writeReadings(seedMonth(stack.unitId, 'gw-al-demo-1', MONTH));
  // Five aluminium bulk units fed a key parameter during the month too: open (awaiting confirmation).
  for (const i of OPEN_BULK) {
    const u = bulkUnit(i);
    const gatewayId = `gw-bulk-${i}`;
    await stack.store.writeMeta(u.id, {
      v: 1,
      gatewayId,
      unit: { id: u.id, name: u.name, industry: u.industry, province: u.province },
      points: [
        {
          id: 'p.mass',
          device: 'scale',
          unit: 't',
          aggregation: 'totalizer',
          parameter: 'aluminium.anode_consumption',
        },
      ],
      meters: [],
      configHash: 'd'.repeat(64),
    });
    const ts = Date.parse(`${MONTH}-15T12:00:00+08:00`);
    await stack.store.writeReadings([
      {
        unitId: u.id,
        gatewayId,
        device: 'scale',
        point: 'p.mass',
        ts,
        rxTs: ts + 20,
        value: '1',
        quality: 'good',
        seq: 0,
      },
    ]);
  }
  await stack.state!.addAccount(
    {
      username: 'plant',
      password: STACK_PASSWORD,
      role: 'enterprise',
      scope: { provinces: [], units: [stack.unitId] },
      displayName: '示范电解铝厂能源主管',
    },
    { id: 'cli:test', role: 'cli' },
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 240_000);

afterAll(async () => {
  for (const s of sessions) await s.context.close().catch(() => {});
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Vue evidence and confirmation pages in Chromium at 1366 × 768', () => {
  let plant: Session;
  let regulator: Session;
  let admin: Session;
  let packageSha = '';

  it('the enterprise sees the ended month incomplete first, its signature not checked, and every section', async () => {
    plant = await open('plant');
    // The unit page links to the evidence (the previous month).
    await plant.page.goto(`${stack.url}/app/#/units/${stack.unitId}`);
    await plant.page.locator('[data-nav="evidence"]').click();
    await plant.page.locator('[data-field="content-status"]').waitFor(SLOW);
    expect(plant.page.url()).toContain(`/evidence/${MONTH}`);
    const status = plant.page.locator('[data-field="content-status"]');
    expect(await status.getAttribute('data-status')).toBe('incomplete');
    expect(await status.textContent()).toContain(zhCN.evidence.status.incomplete);
    // The content status stands above the signature.
    const [cs, sig] = await Promise.all([
      status.boundingBox(),
      plant.page.locator('[data-field="signature"]').boundingBox(),
    ]);
    expect(cs!.y).toBeLessThan(sig!.y);
    // Completeness as a percentage, from the package's covered share.
    expect(await plant.page.locator('[data-field="coverage"]').textContent()).toMatch(/\d+\.\d %/);
    await expect
      .poll(() => plant.page.locator('[data-field="signature"]').getAttribute('data-state'))
      .toBe('not_checked');
    // Key parameters with translated units and methods; anode consumption measured from the seed.
    const anode = plant.page.locator('[data-table="parameters"] tr', {
      has: plant.page.locator('[data-parameter="aluminium.anode_consumption"]'),
    });
    expect(await anode.locator('[data-field="method"]').getAttribute('data-method')).toBe('calculated');
    expect(await anode.textContent()).toContain(zhCN.uom.t);
    expect(await anode.textContent()).toContain(zhCN.evidence.method.calculated);
    // Liquid output has no ticket: not measured, and the notice says what follows.
    const liquid = plant.page.locator('[data-table="notices"] [data-parameter="aluminium.liquid_output"]');
    expect(await liquid.count()).toBe(1);
    // Findings of the month: the count is the package's, with a link to the findings list of the month.
    const pkg = (await (
      await fetch(`${stack.url}/api/v1/units/${stack.unitId}/evidence/${MONTH}`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      })
    ).json()) as { findings: unknown[]; storedFindings: unknown[] };
    const count = plant.page.locator('[data-field="findings-count"]');
    expect(Number(await count.getAttribute('data-open'))).toBe(
      pkg.findings.length + pkg.storedFindings.length,
    );
    expect(await count.locator('a').getAttribute('href')).toContain(`from=${MONTH}-01`);
    // The deadline: 40 days after month end, counted down.
    const deadline = plant.page.locator('[data-field="deadline"]');
    expect(await deadline.getAttribute('data-state')).toBe('awaiting_confirmation');
    expect(Number(await deadline.getAttribute('data-days-left'))).toBeGreaterThan(0);
    // Downloads in four formats.
    expect(
      await plant.page
        .locator('.downloads a')
        .evaluateAll((as) => as.map((a) => a.getAttribute('data-format'))),
    ).toEqual(['json', 'csv', 'html', 'xlsx']);
    const xlsx = await plant.page.request.get(
      `${stack.url}${await plant.page.locator('[data-format="xlsx"]').getAttribute('href')}`,
    );
    expect(xlsx.status()).toBe(200);
    expect((await xlsx.body()).subarray(0, 2).toString()).toBe('PK');
    await checkBoth(
      plant,
      'evidence-incomplete',
      '[data-field="content-status"]',
      zhCN.evidence.status.incomplete,
      en.evidence.status.incomplete,
    );
  }, 180_000);

  it('the enterprise confirms it: refused without a comment, version 1 with one; receipt and package pass mrv verify', async () => {
    const p = plant.page;
    await p.locator('[data-action="confirm"]').click();
    await expect
      .poll(() => p.locator('[data-field="refusal"]').textContent(), SLOW)
      .toContain(zhCN.confirmation.errors.commentRequired);
    expect(plant.failed).toEqual([`POST /api/v1/units/${stack.unitId}/confirmations/${MONTH} 400`]);
    plant.failed.length = 0;
    await p
      .locator('textarea[name="comment"]')
      .fill('出铝称量单未接入，按月度报表补报 / ladle tickets not connected yet');
    await p.locator('[data-action="confirm"]').click();
    await p.locator('[data-table="versions"] [data-version="1"]').waitFor(SLOW);
    expect(await p.locator('[data-field="month-state"]').getAttribute('data-state')).toBe('confirmed');
    expect(await p.locator('[data-table="versions"]').textContent()).toContain('示范电解铝厂能源主管');
    await checkBoth(
      plant,
      'evidence-confirmed',
      '[data-field="month-state"]',
      zhCN.confirmation.state.confirmed,
      en.confirmation.state.confirmed,
    );

    // Download both files as the page offers them.
    const [receiptDl] = await Promise.all([
      p.waitForEvent('download'),
      p.locator('[data-download="receipt"]').click(),
    ]);
    const receiptFile = join(dir, 'receipt.json');
    await receiptDl.saveAs(receiptFile);
    const [pkgDl] = await Promise.all([
      p.waitForEvent('download'),
      p.locator('[data-download="package"]').click(),
    ]);
    const pkgFile = join(dir, 'frozen.json');
    await pkgDl.saveAs(pkgFile);
    packageSha = createHash('sha256').update(readFileSync(pkgFile)).digest('hex');
    const receipt = JSON.parse(readFileSync(receiptFile, 'utf8')) as {
      packageSha256: string;
      version: number;
    };
    expect(receipt).toMatchObject({ version: 1, packageSha256: packageSha });
    // The page shows the same digest.
    expect(await p.locator('[data-field="sha256"]').first().getAttribute('title')).toBe(packageSha);
    const trust = join(dir, 'evidence-ed25519.pub.json');
    const ok = await run('verify', receiptFile, '--trusted-keys', trust, '--package', pkgFile);
    expect(ok.out).toContain('ACCEPTED');
    expect(ok.code).toBe(0);
    // Frozen: the package as confirmed still verifies on its own, and an altered copy does not match the receipt.
    const alone = await run('verify', pkgFile, '--trusted-keys', trust);
    expect(alone.code).toBe(0);
    const altered = join(dir, 'altered.json');
    const text = readFileSync(pkgFile, 'utf8');
    const changed = text.replace('"generator":"carbon-mrv test"', '"generator":"carbon-mrv forged"');
    expect(changed).not.toBe(text);
    writeFileSync(altered, changed);
    const bad = await run('verify', receiptFile, '--trusted-keys', trust, '--package', altered);
    expect(bad.out).toContain('REJECTED');
    expect(bad.code).toBe(1);
  }, 240_000);

  it('the enterprise confirms a correction: version 2 cites version 1, which is no longer the latest', async () => {
    const p = plant.page;
    await p
      .locator('textarea[name="comment"]')
      .fill('补充说明 / correction after the ladle tickets were checked');
    expect(await p.locator('[data-action="confirm"]').textContent()).toContain('2');
    await p.locator('[data-action="confirm"]').click();
    await p.locator('[data-table="versions"] [data-version="2"]').waitFor(SLOW);
    const v2 = p.locator('[data-table="versions"] .el-table__body tr', {
      has: p.locator('[data-version="2"]'),
    });
    expect(await v2.textContent()).toContain(zhCN.confirmation.supersedes.replace('{n}', '1'));
    // The API's record: version 2 cites version 1's digest, the one downloaded above.
    const listed = (await (
      await p.request.get(`${stack.url}/api/v1/units/${stack.unitId}/confirmations/${MONTH}`)
    ).json()) as { versions: { version: number; latest: boolean; supersedes: { sha256: string } | null }[] };
    expect(listed.versions.map((v) => [v.version, v.latest])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(listed.versions[1]?.supersedes?.sha256).toBe(packageSha);
    // The frozen version 2 as XLSX for the national platform's form.
    const xlsx = await p.request.get(
      `${stack.url}${await v2.locator('[data-download="xlsx"]').getAttribute('href')}`,
    );
    expect(xlsx.status()).toBe(200);
    expect((await xlsx.body()).subarray(0, 2).toString()).toBe('PK');
    expect(plant.failed).toEqual([]);
  }, 120_000);

  it("the enterprise of unit A cannot open unit B's evidence: the page says not allowed, the API 403", async () => {
    await openEvidence(plant, OTHER_UNIT.id, MONTH);
    expect(await plant.page.locator('[data-field="not-allowed"]').textContent()).toContain(
      zhCN.evidence.notAllowed,
    );
    expect(await plant.page.locator('[data-field="content-status"]').count()).toBe(0);
    expect(plant.failed.some((f) => f.endsWith(' 403'))).toBe(true);
    for (const f of plant.failed) expect(f).toMatch(new RegExp(`/units/${OTHER_UNIT.id}/.* 403$`));
    plant.failed.length = 0;
    const api = await plant.page.request.get(`${stack.url}/api/v1/units/${OTHER_UNIT.id}/evidence/${MONTH}`);
    expect(api.status()).toBe(403);
    const conf = await plant.page.request.get(
      `${stack.url}/api/v1/units/${OTHER_UNIT.id}/confirmations/${MONTH}`,
    );
    expect(conf.status()).toBe(403);
    await checkBoth(
      plant,
      'evidence-not-allowed',
      '[data-field="not-allowed"]',
      zhCN.evidence.notAllowed,
      en.evidence.notAllowed,
    );
  }, 120_000);

  it('the regulator sees the signature verified and reviews the latest version; the confirmations page shows it reviewed', async () => {
    regulator = await open('regulator');
    await openEvidence(regulator, stack.unitId, MONTH);
    const r = regulator.page;
    await expect
      .poll(() => r.locator('[data-field="signature"]').getAttribute('data-state'), SLOW)
      .toBe('verified');
    expect(await r.locator('[data-field="signature"] .el-tag--success').count()).toBe(1);
    await r.locator('[data-action="review"]').waitFor();
    await r.locator('input[name="review-comment"]').fill('已核对 / checked');
    await r.locator('[data-action="review"]').click();
    const latest = r.locator('[data-table="versions"] .el-table__body tr', {
      has: r.locator('[data-version="2"]'),
    });
    await expect
      .poll(() => latest.locator('[data-field="review"]').getAttribute('data-reviewed'), SLOW)
      .toBe('true');
    // Version 1 is superseded: not reviewed.
    const first = r.locator('[data-table="versions"] .el-table__body tr', {
      has: r.locator('[data-version="1"]'),
    });
    expect(await first.locator('[data-field="review"]').getAttribute('data-reviewed')).toBe('false');
    expect(await r.locator('[data-field="month-state"]').getAttribute('data-state')).toBe('reviewed');
    expect(await r.locator('[data-action="review"]').count()).toBe(0);
    await checkBoth(
      regulator,
      'evidence-reviewed',
      '[data-field="month-state"]',
      zhCN.confirmation.state.reviewed,
      en.confirmation.state.reviewed,
    );

    await r.locator('[data-nav="confirmations"]').click();
    await r.locator('[data-table="confirmations"] [data-unit-id]').first().waitFor(SLOW);
    expect(r.url()).toContain('/confirmations');
    // The default month is the previous one, whose deadline runs.
    const row = r.locator('[data-table="confirmations"] .el-table__body tr', {
      has: r.locator(`[data-unit-id="${stack.unitId}"]`),
    });
    expect(await row.locator('[data-field="state"]').getAttribute('data-state')).toBe('reviewed');
    expect(await row.textContent()).toContain(zhCN.confirmations.shown.reviewed);
    // The regulator's scope is one province: units elsewhere are not listed.
    expect(await r.locator(`[data-unit-id="${OTHER_UNIT.id}"]`).count()).toBe(0);
    await checkBoth(
      regulator,
      'confirmations-regulator',
      '[data-table="confirmations"]',
      zhCN.confirmations.shown.reviewed,
      en.confirmations.shown.reviewed,
    );
  }, 240_000);

  it('the admin lists, filters, sorts and paginates 302 units on the confirmations page', async () => {
    admin = await open('admin');
    const a = admin.page;
    await a.goto(`${stack.url}/app/#/confirmations?month=${MONTH}`);
    const rows = a.locator('[data-table="confirmations"] .el-table__body tr');
    await expect.poll(() => a.locator('[data-total="units"] .n').textContent(), SLOW).toBe(String(BULK + 2));
    await expect.poll(() => rows.count()).toBe(20);
    expect(await a.locator('.pager-confirmations .el-pagination__total').textContent()).toContain(
      String(BULK + 2),
    );
    expect(await a.locator('[data-total="reviewed"] .n').textContent()).toBe('1');
    // Compare with the API: states per unit.
    const listed = (await (
      await fetch(`${stack.url}/api/v1/confirmations?month=${MONTH}`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      })
    ).json()) as { unitId: string; state: string; daysLeft: number }[];
    expect(listed).toHaveLength(BULK + 2);
    const openCount = listed.filter((u) => u.state === 'awaiting_confirmation').length;
    expect(openCount).toBe(OPEN_BULK.length);
    expect(await a.locator('[data-total="open"] .n').textContent()).toBe(String(openCount));

    // Filter by state: reviewed → the demo unit alone.
    await a.locator('.filter-state').click();
    await a
      .locator('.el-select-dropdown__item:visible', { hasText: zhCN.confirmations.shown.reviewed })
      .first()
      .click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator('[data-unit-id]').getAttribute('data-unit-id')).toBe(stack.unitId);
    await a.locator('.filter-state').click();
    await a.locator('.el-select-dropdown__item:visible', { hasText: zhCN.confirmations.all }).first().click();
    await expect.poll(() => rows.count()).toBe(20);
    // Search by id.
    await a.locator('.filter-search input').fill('BULK0042');
    await expect.poll(() => rows.count()).toBe(1);
    await a.locator('.filter-search input').fill('');
    await expect.poll(() => rows.count()).toBe(20);

    // Sort by state ascending: open units first (the filter's order), the reviewed one after them.
    const header = a.locator('[data-table="confirmations"] th', { hasText: zhCN.confirmations.colState });
    await header.click();
    const firstState = SHOWN_STATES.find((st) =>
      listed.some((u) => shownState(u.state as Parameters<typeof shownState>[0]) === st),
    );
    await expect
      .poll(() => rows.first().locator('[data-field="state"]').getAttribute('data-state'))
      .toBe(firstState);
    // Page 2 shows the next 20.
    const firstOfPage1 = await rows.first().locator('[data-unit-id]').getAttribute('data-unit-id');
    await a.locator('.pager-confirmations .el-pager li', { hasText: /^2$/ }).click();
    await expect
      .poll(() => rows.first().locator('[data-unit-id]').getAttribute('data-unit-id'))
      .not.toBe(firstOfPage1);
    expect(await rows.count()).toBe(20);
    await checkBoth(
      admin,
      'confirmations-admin',
      '[data-table="confirmations"]',
      zhCN.confirmations.colState,
      en.confirmations.colState,
    );
  }, 240_000);

  it('a month before the first data shows no data, not monitored, and no green badge', async () => {
    await openEvidence(admin, stack.unitId, EMPTY_MONTH);
    const a = admin.page;
    expect(await a.locator('[data-field="content-status"]').getAttribute('data-status')).toBe('no_data');
    expect(await a.locator('[data-field="content-badge"]').textContent()).toContain(
      zhCN.evidence.status.no_data,
    );
    // The signature is valid, yet it says nothing about an empty month: not green.
    await expect
      .poll(() => a.locator('[data-field="signature"]').getAttribute('data-state'), SLOW)
      .toBe('verified_no_data');
    expect(await a.locator('[data-field="deadline"]').getAttribute('data-state')).toBe('not_monitored');
    await a.waitForLoadState('networkidle');
    expect(await a.locator('.el-tag--success').count()).toBe(0);
    expect(await a.locator('[data-action="confirm"]').count()).toBe(0);
    await checkBoth(
      admin,
      'evidence-no-data',
      '[data-field="content-status"]',
      zhCN.evidence.status.no_data,
      en.evidence.status.no_data,
    );
    // The month picker goes to another month.
    await a.locator('.month-picker input').fill(MONTH);
    await a.locator('.month-picker input').press('Enter');
    await expect.poll(() => a.url()).toContain(`/evidence/${MONTH}`);
    await expect
      .poll(() => a.locator('[data-field="content-status"]').getAttribute('data-status'), SLOW)
      .toBe('incomplete');
    // The enterprise sees the same: no data, no confirm button, nothing green.
    await openEvidence(plant, stack.unitId, EMPTY_MONTH);
    expect(await plant.page.locator('[data-field="content-status"]').getAttribute('data-status')).toBe(
      'no_data',
    );
    await plant.page.waitForLoadState('networkidle');
    expect(await plant.page.locator('.el-tag--success').count()).toBe(0);
    expect(await plant.page.locator('[data-action="confirm"]').count()).toBe(0);
  }, 180_000);

  it('`/` opens the Vue dashboard (the demo token link logs in); the classic page stays at /classic/', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const page = await context.newPage();
      await page.goto(`${stack.url}/#/login?token=${stack.adminToken}`);
      await page.locator('[data-table="units"]').waitFor(SLOW);
      expect(new URL(page.url()).pathname).toBe('/app/');
      expect(page.url()).not.toContain(stack.adminToken);
      expect(await page.locator('[data-field="who"]').textContent()).toContain(zhCN.role.admin);
      const root = await fetch(`${stack.url}/`, { redirect: 'manual' });
      expect(root.status).toBe(302);
      expect(root.headers.get('location')).toBe('/app/');
      await page.goto(`${stack.url}/classic/`);
      await page.locator('#view').waitFor();
      expect(await page.locator('header.top h1').textContent()).toContain('carbon-mrv');
    } finally {
      await context.close();
    }
  }, 120_000);
});
