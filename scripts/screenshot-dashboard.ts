// A full-page screenshot of a running dashboard, small enough for the README:
//   node --import tsx scripts/screenshot-dashboard.ts <base URL> [out.png] [device pixels per CSS pixel]
// with QAFORGE_ADMIN_KEY set unless the server runs with --dev. Debian's chromium through playwright-core
// (scripts/setup.sh installs it); nothing but the given server is reached.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, out = 'docs/dashboard.png', scale = '0.5'] = process.argv.slice(2);
if (!base) {
  console.error('usage: scripts/screenshot-dashboard.ts <base URL, e.g. http://127.0.0.1:8080> [out.png] [scale]');
  process.exit(2);
}
const origin = new URL(base).origin;
const profile = mkdtempSync(join(tmpdir(), 'qaforge-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  viewport: { width: 1280, height: 900 },
  deviceScaleFactor: Number(scale),
});
try {
  await ctx.route('**/*', (r) => (new URL(r.request().url()).origin === origin ? r.continue() : r.abort('blockedbyclient')));
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`${origin}/dashboard`);
  const key = process.env.QAFORGE_ADMIN_KEY;
  const ready = page.waitForFunction(() => ['ready', 'error'].includes((globalThis as any).document.body.dataset.state ?? ''), null, { timeout: 60_000 });
  ready.catch(() => undefined); // raced below; awaited again after the key
  const asked = page.locator('#key-dialog[open]').waitFor({ timeout: 60_000 }).then(() => true, () => false);
  if (await Promise.race([ready.then(() => false), asked])) {
    if (!key) throw new Error('the dashboard asks for an admin key: set QAFORGE_ADMIN_KEY (or serve with --dev)');
    await page.locator('#key-input').fill(key);
    await page.locator('#key-input').press('Enter');
  }
  await page.waitForFunction(() => (globalThis as any).document.body.dataset.state === 'ready', null, { timeout: 60_000 });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`${out}: ${Math.round(statSync(out).size / 1024)} KB`);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
