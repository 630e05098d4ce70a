/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the demo's
 * pipeline (simulator → gateway → broker → collector → SQLite → server, see
 * `helpers/dashboard-stack.ts`): log in with the link the demo prints, the overview lists the demo
 * unit, the language switch, the live chart's last value moving, rollup ranges and zoom, meters,
 * evidence download, findings filters, and a regulator of another province kept out.
 * Screenshots of every page land in `test-results/dashboard/` (gitignored; CI keeps them as artefacts).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../core/schema/finding.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { type DashboardStack, OTHER_UNIT, startDashboardStack } from '../helpers/dashboard-stack.ts';

const root = new URL('../..', import.meta.url).pathname;
const SHOTS = join(root, 'test-results/dashboard');

let dir: string;
let stack: DashboardStack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function shot(name: string, p: Page = page): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'mrv-dashboard-'));
  stack = await startDashboardStack(dir);
  // playwright-core starts Chromium with a fresh, empty profile (its own temporary --user-data-dir).
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (err) => pageErrors.push(err.message));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard in Chromium', () => {
  it('logs in with the demo link and lists the demo unit on the overview (zh-CN by default)', async () => {
    await page.goto(`${stack.url}/classic/`);
    await page.waitForSelector('form.login');
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await shot('login');
    // Issue 13/18: the overview asks the cheap completeness route, never a month's evidence package.
    const asked: { url: string; status: number }[] = [];
    const onResponse = (res: { url(): string; status(): number }) => {
      if (res.url().includes('/api/v1/units/')) asked.push({ url: res.url(), status: res.status() });
    };
    page.on('response', onResponse);
    // The unit's first key-parameter reading is in (the pipeline has just started).
    const mtd = async () => {
      const res = await fetch(`${stack.url}/api/v1/units/${stack.unitId}/completeness`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      return res.ok ? ((await res.json()) as { status: string }).status : `HTTP ${res.status}`;
    };
    await expect.poll(mtd, { timeout: 20_000 }).toBe('measuring');
    await page.goto(`${stack.url}/classic/#/login?token=${stack.adminToken}`);
    const row = page.locator(`#units-table tr[data-unit-id="${stack.unitId}"]`);
    await row.waitFor();
    // The token does not stay in the address bar.
    expect(page.url()).not.toContain(stack.adminToken);
    expect(await row.locator('.unit-link').textContent()).toContain('示范电解铝厂');
    expect(await page.locator('#overview-heading').textContent()).toBe('排放单位总览');
    await expect
      .poll(() => row.locator('[data-field="state"]').textContent(), { timeout: 15_000 })
      .toBe('在线');
    await page.locator('#units-table [data-field="deadline"] a').first().waitFor();
    // Month to date: the live unit is measuring (not 0 % for the rest of the month), its last month
    // (before its first data) not monitored rather than overdue.
    const cell = row.locator('[data-field="completeness"] a');
    await cell.waitFor();
    expect(await cell.getAttribute('data-status')).toBe('measuring');
    expect(Number(await cell.getAttribute('data-ratio'))).toBeGreaterThan(0);
    expect(await row.locator('[data-field="deadline"] a').getAttribute('data-status')).toBe('not_monitored');
    page.off('response', onResponse);
    const completeness = asked.filter((a) => a.url.includes('/completeness?month='));
    expect(completeness.length).toBeGreaterThan(0);
    for (const a of completeness) expect(a.status).toBe(200);
    expect(asked.filter((a) => a.url.includes('/evidence/'))).toEqual([]);
    await shot('overview-zh');
  });

  it('switches the language to English and back, and remembers it', async () => {
    await page.click('button[data-lang="en"]');
    await expect.poll(() => page.locator('#overview-heading').textContent()).toBe('Units overview');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('#units-table thead').textContent()).toContain('Completeness month to date');
    await shot('overview-en');
    await page.reload();
    await expect.poll(() => page.locator('#overview-heading').textContent()).toBe('Units overview');
    await page.click('button[data-lang="zh-CN"]');
    await expect.poll(() => page.locator('#overview-heading').textContent()).toBe('排放单位总览');
  });

  it('draws the live trend of a point and its last value changes with the stream', async () => {
    await page.click(`#units-table tr[data-unit-id="${stack.unitId}"] .unit-link`);
    await page.waitForSelector('#trend canvas');
    await expect
      .poll(() => page.locator('#live-status').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('connected');
    const last = page.locator('#trend-last');
    await expect.poll(() => last.getAttribute('data-ts'), { timeout: 15_000 }).not.toBeNull();
    const first = { ts: await last.getAttribute('data-ts'), text: await last.textContent() };
    // A new reading arrives over SSE (no reload) and moves the chart's last point.
    await expect.poll(() => last.getAttribute('data-ts'), { timeout: 20_000 }).not.toBe(first.ts);
    expect(await last.textContent()).toMatch(/^\d+(\.\d+)? kA · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(await page.locator('#trend-mode').textContent()).toContain('原始读数');
    await shot('unit-live');
  });

  it('shows months of data from server-side rollups, zooms by dragging and resets by double-click', async () => {
    await page.click('button[data-range="7d"]');
    await expect.poll(() => page.locator('#trend-mode').textContent()).toContain('15m');
    expect(page.url()).toContain('range=7d');
    await expect.poll(() => page.locator('#trend-last').getAttribute('data-value')).not.toBeNull();
    const over = page.locator('#trend .u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => page.locator('#trend-mode').getAttribute('data-zoomed')).toBe('true');
    await shot('unit-7d-zoomed');
    await over.dblclick();
    await expect.poll(() => page.locator('#trend-mode').getAttribute('data-zoomed')).toBe('false');
    await shot('unit-7d');
  });

  it('shows the meters of the site file with their calibration status and days left', async () => {
    await page.click('a[data-tab="meters"]');
    await page.waitForSelector('#meters-table');
    const rows = page.locator('#meters-table > tbody > tr');
    expect(await rows.count()).toBe(4);
    const statuses = await rows.evaluateAll((trs) => trs.map((r) => r.getAttribute('data-status')));
    for (const s of statuses) expect(['valid', 'due_soon', 'expired', 'missing']).toContain(s);
    const ladle = page.locator('#meters-table [data-meter-id="ladle-scale-1"]');
    expect(await ladle.locator('[data-field="daysLeft"]').textContent()).toMatch(/^(剩 \d+ 天|已超 \d+ 天)$/);
    await ladle.locator('details.certs summary').click();
    await shot('meters');
  });

  it('lists the monthly evidence and downloads this month as JSON and CSV with its verification result', async () => {
    await page.click('a[data-tab="evidence"]');
    await page.waitForSelector('#evidence-table');
    await shot('evidence-list');
    // Months before the unit's first data are not monitored, never "N days past the deadline".
    const older = page.locator('#evidence-table tbody tr').nth(3);
    expect(await older.locator('[data-status="not_monitored"]').count()).toBe(1);
    expect(await older.textContent()).not.toContain('已过截止');
    const month = await page.locator('#evidence-table tbody tr').first().getAttribute('data-month');
    await page.click(`#evidence-table tr[data-month="${month}"] a.button`);
    await page.waitForSelector('#verification, .notice[data-state="unavailable"]', { timeout: 30_000 });
    if ((await page.locator('#verification').count()) === 0) {
      // Issue 5's evidence route not there: the page says so instead of breaking.
      await shot('evidence-detail-unavailable');
      return;
    }
    expect(await page.locator('#verification').getAttribute('data-ok')).toBe('true');
    // The content status comes first and says the month is not over; the signature is only a signature.
    const content = page.locator('#content-status');
    expect(await content.getAttribute('data-status')).toBe('incomplete');
    expect(await content.locator('[data-reason="month_not_over"]').count()).toBe(1);
    const order = await page.evaluate(() => {
      const a = document.querySelector('#content-status');
      const b = document.querySelector('#verification');
      return a && b ? a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING : 0;
    });
    expect(order).toBeGreaterThan(0);
    expect(await page.locator('#verification').textContent()).toContain('签名有效');
    expect(await page.locator('section#emissions-by-kind').count()).toBe(1);
    await shot('evidence-detail');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('a[data-format="csv"]')]);
    expect(csv.suggestedFilename()).toBe(`evidence-${stack.unitId}-${month}.csv`);
    const csvText = await (await csv.createReadStream()).toArray();
    expect(Buffer.concat(csvText).toString('utf8')).toContain(stack.unitId);
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('a[data-format="json"]')]);
    const pkg = JSON.parse(Buffer.concat(await (await json.createReadStream()).toArray()).toString('utf8'));
    expect(pkg).toMatchObject({ month, unit: { id: stack.unitId }, signature: { alg: 'Ed25519' } });
    // Emissions by kind with their factors and sources (issue 18 item 7): the figures of the package.
    const em = page.locator('#emissions-by-kind');
    await em.waitFor();
    expect(await em.locator('[data-field="factor-pack"]').textContent()).toContain(
      `${pkg.emissions.factorPack.id}@${pkg.emissions.factorPack.packVersion}`,
    );
    if (pkg.emissions.items.length > 0) {
      expect(await em.locator('tr[data-emission]').count()).toBe(pkg.emissions.items.length + 1);
      expect(await em.locator('[data-field="total"]').textContent()).toBe(pkg.emissions.totalCo2e);
      const first = pkg.emissions.items[0];
      const row = em.locator(`tr[data-emission="${first.id}"]`);
      expect(await row.locator('[data-field="co2e"]').textContent()).toBe(first.co2e);
      expect(await row.locator('li[data-factor]').count()).toBe(first.factors.length);
      expect(await row.textContent()).toContain('docs/domain.md');
    }
  });

  it('filters the findings list', async () => {
    await page.click('a[data-tab="findings"]');
    await page.waitForSelector('form.filters');
    await page.selectOption('#severity', 'error');
    await page.click('form.filters button[type="submit"]');
    await expect.poll(() => page.url()).toContain('severity=error');
    await page.waitForSelector('#findings-table, .notice[data-state]', { timeout: 30_000 });
    const severities = await page
      .locator('#findings-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-severity')));
    for (const s of severities) expect(s).toBe('error');
    await shot('findings');
  });

  it('shows open and resolved findings apart, and the overview counts the open ones only', async () => {
    const at = Date.now() - 1000;
    const gap = (id: string, extra: Partial<Finding> = {}): Finding => ({
      id,
      unitId: stack.unitId,
      gatewayId: 'gw-late',
      source: 'integrity',
      code: 'MRV_F_SEQ_GAP',
      class: 'delivery',
      severity: 'error',
      message: {
        zh: '网关 gw-late 的批次 3–5 缺失（共 3 批）',
        en: 'gateway gw-late: batches 3..5 are missing',
      },
      detail: { from: 3, to: 5, missing: 3 },
      ts: new Date(at).toISOString(),
      at: new Date(at).toISOString(),
      ...extra,
    });
    await stack.store.writeFindings([
      gap('ui/open-gap', { state: 'open' }),
      gap('ui/resolved-gap', {
        state: 'resolved',
        resolvedAt: new Date(at + 500).toISOString(),
        resolution: {
          by: 'late-batches',
          seqs: [[3, 5]],
          message: { zh: '批次 3–5 已迟到补齐', en: 'batches 3..5 arrived late' },
          detail: {},
        },
      }),
    ]);
    // What the API says for this month (rules may have found more), each finding with its state.
    const month = new Date(at + 8 * 3_600_000).toISOString().slice(0, 7);
    const from = new Date(Date.parse(`${month}-01T00:00:00Z`) - 8 * 3_600_000).toISOString();
    const res = await fetch(
      `${stack.url}/api/v1/units/${stack.unitId}/findings?from=${encodeURIComponent(from)}`,
      { headers: { authorization: `Bearer ${stack.adminToken}` } },
    );
    const listed = (await res.json()) as Finding[];
    expect(listed.find((f) => f.id === 'ui/resolved-gap')?.state).toBe('resolved');
    expect(listed.find((f) => f.id === 'ui/open-gap')?.state).toBe('open');
    const open = listed.filter((f) => f.state !== 'resolved').length;

    await page.click('#nav a[data-nav="overview"]');
    const cell = page.locator(`#units-table tr[data-unit-id="${stack.unitId}"] [data-field="findings"] a`);
    await expect.poll(() => cell.getAttribute('data-count'), { timeout: 30_000 }).toBe(String(open));

    await page.goto(`${stack.url}/classic/#/units/${stack.unitId}/findings?state=resolved`);
    await page.waitForSelector('#findings-table', { timeout: 30_000 });
    const rows = page.locator('#findings-table tbody tr');
    expect(await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-state')))).toEqual(['resolved']);
    const resolvedRow = page.locator('#findings-table tr[data-finding-id="ui/resolved-gap"]');
    expect(await resolvedRow.locator('td[data-state="resolved"]').textContent()).toMatch(
      /已解决.*（批次 3–5）.*批次 3–5 已迟到补齐/,
    );
    await page.goto(`${stack.url}/classic/#/units/${stack.unitId}/findings?state=open`);
    await page.waitForSelector('tr[data-finding-id="ui/open-gap"]', { timeout: 30_000 });
    expect(await page.locator('tr[data-finding-id="ui/resolved-gap"]').count()).toBe(0);
    await shot('findings-states');
  });

  it('shows the admin the tokens and configuration', async () => {
    await page.click('#nav a[data-nav="admin"]');
    await page.waitForSelector('#tokens-table');
    expect(await page.locator('#tokens-table').textContent()).not.toContain('mrv_');
    await shot('admin');
  });

  it('keeps a regulator of another province out of the demo unit (token made with mrv token create)', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(root, 'bin/mrv.js'),
        'token',
        'create',
        '--data-dir',
        dir,
        '--role',
        'regulator',
        '--scope',
        `province:${OTHER_UNIT.province}`,
        '--name',
        'regulator 广东',
      ],
      { cwd: root },
    );
    const token = stdout.trim();
    expect(token).toMatch(/^mrv_/);
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const reg = await context.newPage();
    try {
      await reg.goto(`${stack.url}/classic/#/login`);
      // The server sees tokens created while it runs within a second.
      await reg.waitForTimeout(1100);
      await reg.fill('#token', token);
      await reg.click('form.login button[type="submit"]');
      await reg.waitForSelector(`#units-table tr[data-unit-id="${OTHER_UNIT.id}"]`);
      expect(await reg.locator(`#units-table tr[data-unit-id="${stack.unitId}"]`).count()).toBe(0);
      expect(await reg.locator('#user .role').textContent()).toContain('广东');
      expect(await reg.locator('#nav a[data-nav="admin"]').count()).toBe(0);
      await shot('regulator-overview', reg);
      await reg.goto(`${stack.url}/classic/#/units/${stack.unitId}`);
      await reg.waitForSelector('.notice[data-state="forbidden"]');
      const status = await reg.evaluate(
        async (u) => (await fetch(`/api/v1/units/${u}/points`)).status,
        stack.unitId,
      );
      expect(status).toBe(403);
      await shot('regulator-forbidden', reg);
    } finally {
      await context.close();
    }
  });

  it('raised no script error on any page', () => {
    expect(pageErrors).toEqual([]);
  });
});
