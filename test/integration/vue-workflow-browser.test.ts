/**
 * The findings workflow and the meter ledger on the Vue dashboard at /app/ (dashboard/, docs/architecture.md
 * §8), walked in a real browser (Debian's Chromium via playwright-core, `helpers/vue-browser.ts`) by the
 * roles that use them, against the demo's pipeline (`helpers/dashboard-stack.ts`) with a state database:
 * - the enterprise account explains a finding with text and a PDF attachment; a conflict (someone
 *   acknowledged it meanwhile) shows translated, never raw;
 * - the regulator closes it, the history names both, and the overview's open count drops by one;
 * - the metrologist (计量管理员) renews an expired meter's certificate with a PDF, and the meter turns
 *   valid on the ledger page and in `GET /api/v1/units/{unitId}/meters`;
 * - scope: an enterprise account of unit B sees none of unit A's findings or meters in the pages, and
 *   the API answers it 403 (unit routes) or 404 (a finding of A);
 * - the admin's all-units view lists every unit with open findings, each row naming its unit;
 * - every page in both languages at 1366 × 768 passes the dashboard checks; screenshots in
 *   `test-results/vue-dashboard/`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { en } from '../../dashboard/src/i18n/en.ts';
import { zhCN } from '../../dashboard/src/i18n/zh-CN.ts';
import { cstMonth, previousMonth } from '../../dashboard/src/lib/format.ts';
import {
  type DashboardStack,
  OTHER_UNIT,
  STACK_PASSWORD,
  startDashboardStack,
} from '../helpers/dashboard-stack.ts';
import { DashboardBrowser, ensureDashboardBuilt } from '../helpers/vue-browser.ts';
import { finding } from './state-contract.ts';

/** Enum ids of these pages that must not stand raw on them (besides the dashboard's usual ones). */
const RAW_IDS = [
  'acknowledged',
  'explained',
  'closed',
  'resolved',
  'critical',
  'verification',
  'calibration',
  'superseded',
  'withdrawal',
  'due_soon',
];

let dir: string;
let stack: DashboardStack;
let b: DashboardBrowser;
let page: Page;

const A = () => stack.unitId;
const B = OTHER_UNIT.id;
const FA1 = 'vue-wf-a-1';
const FA2 = 'vue-wf-a-2';
const FB1 = 'vue-wf-b-1';
/** The demo's ladle scale (examples/aluminium-smelter.site.yaml). */
const LADLE = 'ladle-scale-1';
interface LedgerRow {
  id: string;
  calibration: { status: string; certificate: string | null; validUntil: string | null };
  certificates: { id: string; certificate: string }[];
}
/** `yyyy-mm-dd` in UTC+8 of `ms`. */
const cstDate = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);

/** A small real PDF (header, a catalogue, a trailer). */
function pdf(text: string): Buffer {
  return Buffer.from(
    `%PDF-1.4\n% ${text}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n`,
  );
}

/** A GET or POST with the browser's session cookie (same context as the page). */
async function apiAs(method: 'GET' | 'POST', path: string, body?: unknown) {
  const r =
    method === 'GET'
      ? await page.request.get(`${stack.url}${path}`)
      : await page.request.post(`${stack.url}${path}`, { data: body ?? {} });
  let json: unknown;
  try {
    json = await r.json();
  } catch {
    json = undefined;
  }
  return { status: r.status(), json: json as Record<string, unknown> & { error?: { code: string } } };
}

/** The same with the admin token (no browser session involved). */
async function admin(path: string, init: RequestInit = {}) {
  const r = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

const findingRow = (id: string) =>
  page.locator('[data-table="findings"] tr.finding-row', {
    has: page.locator(`[data-finding-id="${id}"]`),
  });
const meterRow = (id: string) =>
  page.locator('[data-table="ledger"] tr.meter-row', { has: page.locator(`[data-meter-id="${id}"]`) });
const openCountOf = async (unitId: string) =>
  Number(
    await page
      .locator('[data-table="units"] tr', { has: page.locator(`[data-unit-id="${unitId}"]`) })
      .locator('[data-field="openFindings"]')
      .getAttribute('data-count'),
  );

/** Picks `label` in the toolbar's select `.filter-NAME`. */
async function choose(filter: string, label: string): Promise<void> {
  await page.locator(`.filter-${filter}`).click();
  await page.locator('.el-select-dropdown__item:visible', { hasText: label }).first().click();
}

beforeAll(async () => {
  ensureDashboardBuilt();
  dir = mkdtempSync(join(tmpdir(), 'mrv-vue-workflow-'));
  stack = await startDashboardStack(dir, { accounts: true });
  const state = stack.state!;
  const cli = { id: 'cli:test', role: 'cli' as const };
  for (const [username, role, scope, displayName] of [
    ['ent-a', 'enterprise', { provinces: [], units: [A()] }, '电解铝厂能源管理员'],
    ['ent-b', 'enterprise', { provinces: [], units: [B] }, '水泥厂能源管理员'],
    ['reg-a', 'regulator', { provinces: [stack.unitProvince], units: [] }, '省生态环境厅'],
    ['metro-a', 'metrologist', { provinces: [], units: [A()] }, '计量室'],
  ] as const)
    await state.addAccount(
      {
        username,
        password: STACK_PASSWORD,
        role,
        scope: { provinces: [...scope.provinces], units: [...scope.units] },
        displayName,
      },
      cli,
    );
  // Two findings of unit A and one of unit B in the current month, one minute old.
  const ts = new Date(Date.now() - 60_000).toISOString();
  const gap = { zh: '批次 12–14 未送达', en: 'batches 12–14 never arrived' };
  await stack.store.writeFindings([
    finding(FA1, A(), { ts, at: ts, message: gap, point: 'potline.current' }),
    finding(FA2, A(), { ts, at: ts, message: gap }),
    finding(FB1, B, { ts, at: ts, message: gap }),
  ]);
  // The ladle scale's current certificate is withdrawn (entered by mistake): the lapsed one is left, expired.
  const ledger = await admin(`/api/v1/units/${encodeURIComponent(A())}/ledger/meters`);
  const ladle = (ledger.json as unknown as LedgerRow[]).find((m) => m.id === LADLE)!;
  const current = ladle.certificates.find((c) => c.certificate === 'DEMO-JD-2026-000118')!;
  const withdrawn = await admin(
    `/api/v1/units/${encodeURIComponent(A())}/ledger/meters/${LADLE}/certificates/${current.id}/correction`,
    { method: 'POST', body: JSON.stringify({ reason: '录入错误 / entered by mistake', withdraw: true }) },
  );
  expect(withdrawn.status).toBe(201);
  b = await DashboardBrowser.launch(stack.url, { rawIds: RAW_IDS });
  page = b.page;
}, 240_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('findings and meter ledger on the Vue dashboard, by role', { timeout: 120_000 }, () => {
  it('the enterprise account explains a finding with text and a PDF; a conflict shows translated', async () => {
    await b.loginAs('ent-a', STACK_PASSWORD);
    await page.locator('[data-nav="findings"]').click();
    await findingRow(FA1).waitFor();
    // Its own unit only, with the kind translated and times in UTC+8.
    expect(await findingRow(FB1).count()).toBe(0);
    const row = findingRow(FA1);
    expect(await row.locator('[data-field="title"]').textContent()).toBe(
      zhCN.findings.codeName.MRV_F_SEQ_GAP,
    );
    expect(await row.locator('[data-field="message"]').textContent()).toBe('批次 12–14 未送达');
    expect(await row.textContent()).toContain('UTC+8');
    expect(await row.locator('[data-field="state"]').getAttribute('data-state')).toBe('open');
    // The enterprise may acknowledge and explain, not close.
    expect(
      await row.locator('[data-action]').evaluateAll((els) => els.map((e) => e.getAttribute('data-action'))),
    ).toEqual(['acknowledge', 'explain']);
    await b.checkBothLanguages('findings-enterprise', async () => {
      await expect
        .poll(() => findingRow(FA1).locator('[data-field="title"]').textContent())
        .toBe(en.findings.codeName.MRV_F_SEQ_GAP);
      expect(await findingRow(FA1).locator('[data-field="message"]').textContent()).toBe(
        'batches 12–14 never arrived',
      );
    });

    // Free-text search: the point narrows to FA1.
    await findingRow(FA2).waitFor();
    await page.locator('.filter-search input').fill('potline');
    await expect.poll(() => findingRow(FA2).count()).toBe(0);
    expect(await findingRow(FA1).count()).toBe(1);
    await page.locator('.filter-search input').fill('');
    await findingRow(FA2).waitFor();

    // Explain with text and a PDF.
    await row.locator('[data-action="explain"]').click();
    const dialog = page.locator('.el-dialog');
    await dialog.waitFor();
    await dialog.locator('textarea[name="text"]').fill('网关断电 3 分钟，已加装 UPS');
    const file = join(dir, 'explanation.pdf');
    writeFileSync(file, pdf('explanation'));
    await dialog.locator('input[type="file"]').setInputFiles(file);
    await b.shot('findings-explain-dialog-zh-CN');
    await dialog.locator('[data-action="submit"]').click();
    await expect.poll(() => row.locator('[data-field="state"]').getAttribute('data-state')).toBe('explained');
    expect(await row.locator('[data-field="explanation"]').textContent()).toContain(
      '网关断电 3 分钟，已加装 UPS',
    );
    expect(await row.locator('[data-field="explanation"]').textContent()).toContain('ent-a');
    expect(await row.locator('[data-field="attachment"]').textContent()).toContain('explanation.pdf');
    const wf = await admin(`/api/v1/findings/${FA1}`);
    expect((wf.json.workflow as Record<string, unknown>).state).toBe('explained');
    expect(((wf.json.workflow as Record<string, unknown>).attachment as Record<string, unknown>).sha256).toBe(
      createHash('sha256').update(pdf('explanation')).digest('hex'),
    );
    // The attachment link serves the same bytes.
    const href = await row.locator('[data-field="attachment"]').getAttribute('href');
    const got = await page.request.get(`${stack.url}${href}`);
    expect(Buffer.from(await got.body()).equals(pdf('explanation'))).toBe(true);

    // Someone acknowledges FA2 meanwhile (another tab): the page's button then meets a 409, translated.
    await findingRow(FA2).waitFor();
    expect((await apiAs('POST', `/api/v1/findings/${FA2}/acknowledge`)).status).toBe(200);
    await findingRow(FA2).locator('[data-action="acknowledge"]').click();
    const toast = page.locator('.action-error');
    await toast.waitFor();
    expect(await toast.textContent()).toContain(zhCN.apiError.transition);
    expect(await toast.textContent()).toContain('MRV_E_FINDING_TRANSITION');
    expect(b.failedResponses).toEqual([`POST /api/v1/findings/${FA2}/acknowledge 409`]);
    b.failedResponses.length = 0;
    // The page reloaded the list: FA2 shows acknowledged now, with explain left.
    await expect
      .poll(() => findingRow(FA2).locator('[data-field="state"]').getAttribute('data-state'))
      .toBe('acknowledged');
    expect(b.consoleErrors).toEqual([]);
  });

  it('the regulator closes the explained finding; the history names both; the overview open count drops', async () => {
    await b.loginAs('reg-a', STACK_PASSWORD);
    await expect.poll(() => openCountOf(A())).toBeGreaterThanOrEqual(2);
    const before = await openCountOf(A());
    // Its scope: unit A's findings, never unit B's (another province).
    await page.locator('[data-nav="findings"]').click();
    await findingRow(FA1).waitFor();
    expect(await findingRow(FB1).count()).toBe(0);
    await page.locator('[data-nav="overview"]').click();
    await page.locator('[data-table="units"]').waitFor();
    // From the overview's open count to the unit's findings, then the explained ones.
    await page
      .locator('[data-table="units"] tr', { has: page.locator(`[data-unit-id="${A()}"]`) })
      .locator('[data-link="findings"]')
      .click();
    const row = findingRow(FA1);
    await row.waitFor();
    await findingRow(FA2).waitFor();
    await choose('state', zhCN.findings.stateName.explained);
    // Filtered to explained: FA2 (acknowledged) is not listed.
    expect(await findingRow(FA2).count()).toBe(0);
    expect(
      await row.locator('[data-action]').evaluateAll((els) => els.map((e) => e.getAttribute('data-action'))),
    ).toEqual(['close', 'reopen']);
    await b.checkBothLanguages('findings-regulator');

    await row.locator('[data-action="close"]').click();
    const dialog = page.locator('.el-dialog');
    await dialog.waitFor();
    await dialog.locator('textarea[name="text"]').fill('说明属实，同意关闭');
    await dialog.locator('[data-action="submit"]').click();
    // Closed, it leaves the list filtered to explained; the closed filter shows it.
    await expect.poll(() => row.count()).toBe(0);
    await choose('state', zhCN.findings.stateName.closed);
    await expect.poll(() => row.locator('[data-field="state"]').getAttribute('data-state')).toBe('closed');
    expect(await row.locator('[data-field="closed"]').textContent()).toContain('reg-a');
    expect(await row.locator('[data-field="comment"]').textContent()).toContain('说明属实，同意关闭');

    // The history (audit rows): explained by the enterprise, closed by the regulator, with roles.
    await row.locator('.el-table__expand-icon').click();
    const history = page.locator(`[data-field="history"][data-finding-id="${FA1}"]`);
    await expect
      .poll(() => history.locator('[data-field="action"]').allTextContents())
      .toEqual([zhCN.findings.audit.explain, zhCN.findings.audit.close]);
    expect(await history.locator('[data-field="actor"]').allTextContents()).toEqual(['ent-a', 'reg-a']);
    expect(await history.textContent()).toContain(zhCN.role.regulator);
    await b.checkBothLanguages('findings-history', async () => {
      await expect
        .poll(() => history.locator('[data-field="action"]').allTextContents())
        .toEqual([en.findings.audit.explain, en.findings.audit.close]);
    });

    // The overview counts one open finding less.
    await page.locator('[data-nav="overview"]').click();
    await page.locator('[data-table="units"]').waitFor();
    await expect.poll(() => openCountOf(A())).toBe(before - 1);
  });

  it("the metrologist renews the expired meter's certificate with a PDF: valid on the ledger page and in /meters", async () => {
    await b.loginAs('metro-a', STACK_PASSWORD);
    await page.locator('[data-nav="meters"]').click();
    const row = meterRow(LADLE);
    await row.waitFor();
    expect(await row.locator('[data-field="calibration"]').getAttribute('data-status')).toBe('expired');
    expect(await row.locator('[data-field="kind"]').textContent()).toBe(zhCN.meterKind['ladle-scale']);
    expect(await row.locator('[data-field="certificate"]').textContent()).toContain('DEMO-JD-2025-000311');
    await b.checkBothLanguages('ledger-metrologist', async () => {
      await expect
        .poll(() => row.locator('[data-field="kind"]').textContent())
        .toBe(en.meterKind['ladle-scale']);
    });

    await row.locator('[data-action="add"]').click();
    const dialog = page.locator('.el-dialog');
    await dialog.waitFor();
    // The body carries over from the last certificate; number and dates are new.
    expect(await dialog.locator('input[name="body"]').inputValue()).not.toBe('');
    await dialog.locator('input[name="certificate"]').fill('DEMO-JD-2026-000999');
    const today = cstDate(Date.now());
    const until = `${Number(today.slice(0, 4)) + 1}${today.slice(4, 10) === '-02-29' ? '-02-28' : today.slice(4)}`;
    await dialog.locator('.field-date input').fill(today);
    await dialog.locator('.field-date input').press('Enter');
    await dialog.locator('.field-valid-until input').fill(until);
    await dialog.locator('.field-valid-until input').press('Enter');
    await dialog.locator('input[name="result"]').fill('合格');
    // Too large a scan is refused here, before any upload.
    const big = join(dir, 'big-scan.pdf');
    writeFileSync(big, Buffer.concat([pdf('big'), Buffer.alloc(2 * 1024 * 1024)]));
    await dialog.locator('input[name="scan"]').setInputFiles(big);
    await dialog.locator('[data-action="submit"]').click();
    await expect.poll(() => dialog.locator('[data-field="form-problem"]').textContent()).toContain('2.0 MiB');
    // The real scan, a PDF.
    const scan = join(dir, 'certificate-000999.pdf');
    writeFileSync(scan, pdf('DEMO-JD-2026-000999'));
    await dialog.locator('input[name="scan"]').setInputFiles(scan);
    await b.shot('ledger-renew-dialog-zh-CN');
    await dialog.locator('[data-action="submit"]').click();
    await expect
      .poll(() => row.locator('[data-field="calibration"]').getAttribute('data-status'))
      .toBe('valid');
    expect(await row.locator('[data-field="certificate"]').textContent()).toContain('DEMO-JD-2026-000999');

    // The same in the meters API the evidence reads.
    const meters = await apiAs('GET', `/api/v1/units/${encodeURIComponent(A())}/meters`);
    const m = (meters.json as unknown as LedgerRow[]).find((x) => x.id === LADLE)!;
    expect(m.calibration).toMatchObject({
      status: 'valid',
      certificate: 'DEMO-JD-2026-000999',
      validUntil: until,
    });
    // The scan link serves the PDF.
    const href = await row.locator('[data-field="scan"]').getAttribute('href');
    const got = await page.request.get(`${stack.url}${href}`);
    expect(Buffer.from(await got.body()).equals(pdf('DEMO-JD-2026-000999'))).toBe(true);

    // The record: every certificate row, and the renewal by the metrologist in the history.
    await row.locator('.el-table__expand-icon').click();
    const history = page.locator(`[data-field="meter-history"][data-meter-id="${LADLE}"]`);
    await expect
      .poll(() => history.locator('[data-table="meter-audit"] [data-field="action"]').allTextContents())
      .toContain(zhCN.ledger.auditAction.certificate_renew);
    expect(
      await history.locator('[data-table="meter-audit"] [data-field="actor"]').allTextContents(),
    ).toContain('metro-a');
    expect(
      await history
        .locator('[data-field="row-state"]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))),
    ).toEqual(expect.arrayContaining(['current', 'superseded', 'withdrawal']));
    await b.checkBothLanguages('ledger-history');

    // A correction: the result was mistyped; the corrected row supersedes it, the reason is on record.
    await row.locator('[data-action="correct"]').click();
    const fix = page.locator('.el-dialog');
    await fix.waitFor();
    expect(await fix.locator('input[name="certificate"]').inputValue()).toBe('DEMO-JD-2026-000999');
    await fix.locator('input[name="result"]').fill('合格（准确度等级 III）');
    await fix.locator('[data-action="submit"]').click();
    // The reason is required: refused here first.
    await expect
      .poll(() => fix.locator('[data-field="form-problem"]').textContent())
      .toContain(zhCN.ledger.fieldReason);
    await fix.locator('textarea[name="reason"]').fill('结论录入不全');
    await fix.locator('[data-action="submit"]').click();
    await expect.poll(() => row.textContent()).toContain('合格（准确度等级 III）');
    expect(await row.locator('[data-field="calibration"]').getAttribute('data-status')).toBe('valid');
    // The row stays open and its record reloads with the change.
    const after = page.locator(`[data-field="meter-history"][data-meter-id="${LADLE}"]`);
    await expect
      .poll(() => after.locator('[data-table="meter-audit"] [data-field="action"]').allTextContents())
      .toContain(zhCN.ledger.auditAction.certificate_correct);
    expect(await after.locator('[data-table="meter-audit"]').textContent()).toContain('结论录入不全');

    // A withdrawal: the anode scale's current certificate goes, the lapsed one before it is left.
    const anode = meterRow('anode-scale-1');
    expect(await anode.locator('[data-field="certificate"]').textContent()).toContain('DEMO-JD-2026-000119');
    await anode.locator('[data-action="withdraw"]').click();
    const wd = page.locator('.el-dialog');
    await wd.waitFor();
    await wd.locator('textarea[name="reason"]').fill('证书编号与实物不符');
    await wd.locator('[data-action="submit"]').click();
    await expect
      .poll(() => anode.locator('[data-field="certificate"]').textContent())
      .toContain('DEMO-JD-2025-000312');
    expect(await anode.locator('[data-field="calibration"]').getAttribute('data-status')).toBe('expired');
    const anodeApi = await apiAs('GET', `/api/v1/units/${encodeURIComponent(A())}/meters`);
    expect(
      (anodeApi.json as unknown as LedgerRow[]).find((x) => x.id === 'anode-scale-1')?.calibration,
    ).toMatchObject({
      status: 'expired',
      certificate: 'DEMO-JD-2025-000312',
    });

    // A metrologist takes no findings action: the findings page of its unit has no buttons.
    await b.open(`/units/${encodeURIComponent(A())}/findings`);
    await findingRow(FA2).waitFor();
    expect(await page.locator('[data-table="findings"] [data-action]').count()).toBe(0);
    await b.checkPage('findings-metrologist', 'zh-CN');
  });

  it('the regulator reads the ledger: no write buttons, a read-only note', async () => {
    await b.loginAs('reg-a', STACK_PASSWORD);
    await b.open(`/units/${encodeURIComponent(A())}/meters`);
    await meterRow(LADLE).waitFor();
    expect(await meterRow(LADLE).locator('[data-field="calibration"]').getAttribute('data-status')).toBe(
      'valid',
    );
    expect(await page.locator('[data-table="ledger"] [data-action]').count()).toBe(0);
    expect(await page.locator('section').textContent()).toContain(zhCN.ledger.readOnly);
    await b.checkBothLanguages('ledger-regulator');
  });

  it("an enterprise account of unit B sees none of unit A's findings, and the API refuses it A", async () => {
    await b.loginAs('ent-b', STACK_PASSWORD);
    await b.open('/findings');
    await findingRow(FB1).waitFor();
    expect(await findingRow(FA1).count()).toBe(0);
    expect(await findingRow(FA2).count()).toBe(0);
    expect(
      await page
        .locator('[data-table="findings"] tr.finding-row [data-finding-id]')
        .evaluateAll((els) => [
          ...new Set(els.map((e) => e.getAttribute('data-finding-id')?.startsWith('vue-wf-a'))),
        ]),
    ).toEqual([false]);
    await b.checkBothLanguages('findings-enterprise-b');
    // The month filter: last month has none of these findings.
    await b.open(`/findings?month=${previousMonth(cstMonth(Date.now()))}`);
    await page.locator('[data-table="findings"]').waitFor();
    await page.waitForLoadState('networkidle');
    await expect
      .poll(() => page.locator('[data-table="findings"]').textContent())
      .toContain(zhCN.findings.noFindings);
    expect(await findingRow(FB1).count()).toBe(0);
    const unitA = encodeURIComponent(A());
    for (const path of [
      `/api/v1/units/${unitA}/findings`,
      `/api/v1/units/${unitA}/meters`,
      `/api/v1/units/${unitA}/ledger/meters`,
    ]) {
      const r = await apiAs('GET', path);
      expect([path, r.status, r.json.error?.code]).toEqual([path, 403, 'MRV_E_FORBIDDEN']);
    }
    // The ledger page: B's meters only (none); A's ledger page answers forbidden, translated.
    await b.open('/meters');
    await page.locator('[data-table="ledger"]').waitFor();
    await page.waitForLoadState('networkidle');
    expect(await meterRow(LADLE).count()).toBe(0);
    await b.checkBothLanguages('ledger-enterprise-b');
    await b.open(`/units/${encodeURIComponent(A())}/meters`);
    await expect
      .poll(() => page.locator('[data-field="load-error"]').textContent())
      .toContain(zhCN.apiError.forbidden);
    expect(await meterRow(LADLE).count()).toBe(0);
    expect(b.failedResponses).toContain(`GET /api/v1/units/${A()}/ledger/meters 403`);
    b.failedResponses.length = 0;
    const f = await apiAs('GET', `/api/v1/findings/${FA1}`);
    expect([f.status, f.json.error?.code]).toEqual([404, 'MRV_E_NOT_FOUND']);
    const act = await apiAs('POST', `/api/v1/findings/${FA2}/explain`, { text: 'not mine' });
    expect([act.status, act.json.error?.code]).toEqual([404, 'MRV_E_NOT_FOUND']);
  });

  it('the admin sees every unit with open findings at once, each row naming its unit', async () => {
    await b.loginAs('admin', STACK_PASSWORD);
    await b.open('/findings');
    await findingRow(FB1).waitFor();
    await findingRow(FA2).waitFor();
    expect(await findingRow(FB1).textContent()).toContain(B);
    expect(await findingRow(FA2).textContent()).toContain(A());
    expect(await page.locator('.filter-unit').textContent()).toContain(zhCN.findings.allUnits);
    await b.checkPage('findings-all-units', 'zh-CN');
  });
});
