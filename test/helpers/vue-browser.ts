/**
 * A Chromium page on the Vue dashboard at /app/ (Debian's /usr/bin/chromium driven by playwright-core),
 * with the checks every page of the dashboard passes (as test/integration/vue-dashboard-browser.test.ts):
 * at 1366 × 768 no horizontal scroll, no console error, no answer ≥ 400 the test did not expect, no
 * i18n key and no raw enum id in the text; a screenshot in `test-results/vue-dashboard/`.
 * {@link ensureDashboardBuilt} builds the dashboard when server/web-app/ is missing or older than dashboard/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { zhCN } from '../../dashboard/src/i18n/zh-CN.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.ts';

const root = new URL('../..', import.meta.url).pathname;
/** Where the screenshots go (gitignored). */
export const SHOTS = join(root, 'test-results/vue-dashboard');
/** The viewport every page must fit. */
export const VIEWPORT = { width: 1366, height: 768 };

/** Newest mtime under `dir`, ms. */
function newest(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n = Math.max(n, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return n;
}

/** Builds the dashboard (scripts/build-dashboard.mjs) unless server/web-app/ is newer than dashboard/. */
export function ensureDashboardBuilt(): void {
  const index = join(root, 'server/web-app/index.html');
  if (!existsSync(index) || statSync(index).mtimeMs < newest(join(root, 'dashboard')))
    execFileSync(process.execPath, [join(root, 'scripts/build-dashboard.mjs')], { stdio: 'inherit' });
}

/** The message groups: a text like `findings.colTime` on the page is a key that was not translated. */
const KEY_PATTERN = new RegExp(`(?<![\\w.])(?:${Object.keys(zhCN).join('|')})\\.[A-Za-z_][\\w-]*`);

/**
 * Enum ids the API answers that must never stand on a page as they are (whole tokens only): the
 * translated groups of the messages, plus `extra` (e.g. finding states, certificate kinds).
 */
function rawPatterns(extra: string[]): Record<'zh-CN' | 'en', RegExp> {
  const ids = [
    ...Object.keys(zhCN.meterKind),
    ...Object.keys(zhCN.calibration),
    ...Object.keys(zhCN.completeness),
    ...Object.keys(zhCN.unitStatus),
    ...Object.keys(zhCN.role),
    ...Object.keys(zhCN.industry),
    ...extra,
    'authEnabled',
  ].filter((id) => id !== 'other');
  const re = (list: string[]) =>
    new RegExp(`(?<![\\w-])(?:${list.map((s) => s.replace(/[-]/g, '\\-')).join('|')})(?![\\w-])`);
  // On a Chinese page no enum id at all; on an English one plain words (admin, open) are English.
  return { 'zh-CN': re(ids), en: re(ids.filter((id) => /[-_A-Z]/.test(id))) };
}

/** A browser with one page and the page's console errors and failed answers collected. */
export class DashboardBrowser {
  readonly page: Page;
  /** Console errors and page errors since the last check. */
  readonly consoleErrors: string[] = [];
  /** Answers ≥ 400 as `METHOD path status`, less the session check before a login. */
  readonly failedResponses: string[] = [];
  readonly #browser: Browser;
  readonly #url: string;
  readonly #raw: Record<'zh-CN' | 'en', RegExp>;

  private constructor(browser: Browser, page: Page, url: string, rawExtra: string[]) {
    this.#browser = browser;
    this.page = page;
    this.#url = url;
    this.#raw = rawPatterns(rawExtra);
    page.on('console', (m) => {
      // Chromium logs every answer ≥ 400 as "Failed to load resource"; those are judged by URL below.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        this.consoleErrors.push(m.text());
    });
    page.on('pageerror', (err) => this.consoleErrors.push(err.message));
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      const method = r.request().method();
      if (r.status() < 400) return;
      if (r.status() === 401 && path === '/api/v1/session' && method === 'GET') return;
      this.failedResponses.push(`${method} ${path} ${r.status()}`);
    });
  }

  /** Launches Chromium on the dashboard of the server at `url` (`http://127.0.0.1:PORT`). */
  static async launch(url: string, opts: { rawIds?: string[] } = {}): Promise<DashboardBrowser> {
    mkdirSync(SHOTS, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: VIEWPORT });
    return new DashboardBrowser(browser, page, url, opts.rawIds ?? []);
  }

  /** Opens `hash` (`/findings`, `/units/X/meters`) of the dashboard. */
  async open(hash: string): Promise<void> {
    await this.page.goto(`${this.#url}/app/#${hash}`);
  }

  /** Logs in on the login page with `username` and `password`; waits for the overview. */
  async loginAs(username: string, password: string): Promise<void> {
    if (
      await this.page
        .locator('[data-action="logout"]')
        .isVisible()
        .catch(() => false)
    )
      await this.page.locator('[data-action="logout"]').click();
    await this.open('/login');
    await this.page.locator('input[name="username"]').fill(username);
    await this.page.locator('input[name="password"]').fill(password);
    await this.page.locator('[data-action="login"]').click();
    await this.page.locator('[data-table="units"]').waitFor();
  }

  /** Switches the language with the top bar's switch and waits for `<html lang>`. */
  async setLang(lang: 'zh-CN' | 'en'): Promise<void> {
    await this.page.locator(`label[data-lang="${lang}"], [data-lang="${lang}"]`).first().click();
    await expect.poll(() => this.page.getAttribute('html', 'lang')).toBe(lang);
  }

  /** A screenshot `name.png` of the viewport. */
  async shot(name: string): Promise<void> {
    await this.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  }

  /** The checks every page passes (see the file comment), then a screenshot `name-lang.png`. */
  async checkPage(name: string, lang: 'zh-CN' | 'en'): Promise<void> {
    const page = this.page;
    await page.waitForLoadState('networkidle');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width, `${name} (${lang}) is ${width} px wide`).toBeLessThanOrEqual(VIEWPORT.width);
    const text = await page.evaluate(() => document.body.innerText);
    expect(text, `${name} (${lang}) shows an i18n key`).not.toMatch(KEY_PATTERN);
    expect(text, `${name} (${lang}) shows a raw enum id`).not.toMatch(this.#raw[lang]);
    if (lang === 'en') expect(text).not.toContain(zhCN.nav.overview);
    expect(this.consoleErrors, `${name} (${lang})`).toEqual([]);
    expect(this.failedResponses, `${name} (${lang})`).toEqual([]);
    await this.shot(`${name}-${lang}`);
  }

  /** Both languages: {@link checkPage} in Chinese, then English, and back to Chinese. */
  async checkBothLanguages(name: string, englishReady?: () => Promise<void>): Promise<void> {
    await this.checkPage(name, 'zh-CN');
    await this.setLang('en');
    await englishReady?.();
    await this.checkPage(name, 'en');
    await this.setLang('zh-CN');
  }

  async close(): Promise<void> {
    await this.#browser.close();
  }
}
