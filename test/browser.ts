// A real browser for the tests: Debian's chromium (installed by scripts/setup.sh) driven by
// playwright-core, which never downloads a browser. A fresh profile per launch; every request is
// recorded and any that would leave 127.0.0.1 is blocked (and recorded as such); console errors and
// uncaught page errors are recorded for the test to assert on.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
/** Where screenshots of a test run go (gitignored). */
export const ARTIFACTS = join(process.cwd(), '.artifacts');

export interface Recorded {
  /** Every request the pages made: method, URL, and whether it carried an Authorization header. */
  requests: { method: string; url: string; auth: boolean }[];
  /** Requests to any host but 127.0.0.1, which were aborted. */
  blocked: string[];
  /** console.error messages (and CSP violations, failed loads) with where they came from. */
  consoleErrors: { text: string; url: string }[];
  /** Uncaught exceptions and unhandled rejections in the pages. */
  pageErrors: string[];
}

export interface Browser extends Recorded {
  context: BrowserContext;
  page: Page;
  /** A new page (tab) of the same profile, recorded like the first. */
  newPage(): Promise<Page>;
  /** Console errors except those matching `allowed` (e.g. the 401 a key prompt starts from). */
  unexpectedErrors(allowed?: RegExp[]): string[];
  close(): Promise<void>;
}

export async function launchBrowser(o: { viewport?: { width: number; height: number }; deviceScaleFactor?: number } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'qaforge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: o.viewport ?? { width: 1280, height: 900 },
    deviceScaleFactor: o.deviceScaleFactor ?? 1,
    offline: false,
    serviceWorkers: 'block',
    acceptDownloads: false,
  });
  const rec: Recorded = { requests: [], blocked: [], consoleErrors: [], pageErrors: [] };
  await context.route('**/*', async (route) => {
    const req = route.request();
    rec.requests.push({ method: req.method(), url: req.url(), auth: req.headers().authorization !== undefined });
    let host = '';
    try {
      host = new URL(req.url()).hostname;
    } catch {
      // not a URL: blocked below
    }
    if (host === '127.0.0.1') return route.continue();
    rec.blocked.push(req.url());
    return route.abort('blockedbyclient');
  });
  const watch = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() === 'error') rec.consoleErrors.push({ text: m.text(), url: m.location().url });
    });
    p.on('pageerror', (e) => rec.pageErrors.push(`${e.name}: ${e.message}`));
    return p;
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  return {
    ...rec, // the same arrays, filled as the pages run
    context,
    page,
    newPage: () => context.newPage(),
    unexpectedErrors: (allowed = []) => rec.consoleErrors.filter((e) => !allowed.some((a) => a.test(e.text))).map((e) => `${e.text} (${e.url})`),
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A screenshot into the artifacts folder; returns its path. */
export async function artifact(page: Page, name: string, o: { selector?: string; fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  if (o.selector) await page.locator(o.selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: o.fullPage ?? false });
  return path;
}
