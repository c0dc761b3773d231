import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); playwright-core never downloads a browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots land here (git-ignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../test-artifacts/browser/', import.meta.url));

/** How long a test waits for something the page should show. Generous: the machine is shared. */
export const UI_TIMEOUT_MS = 15_000;

/**
 * Launches headless Chromium. Playwright gives every launch a fresh temporary profile (its own
 * `--user-data-dir`, deleted on close), and every `browser.newContext()` is an isolated cookie jar:
 * one context per person.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Saves a full-page screenshot as `test-artifacts/browser/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = `${ARTIFACTS_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Opens the sample's page and logs in as a demo user through its buttons. */
export async function openAs(browser: Browser, baseUrl: string, userId: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 820 } });
  const page = await context.newPage();
  await page.goto(baseUrl + '/');
  await page.locator(`#demo-users button[data-user-id="${userId}"]`).click();
  await waitConnected(page);
  return page;
}

/** Waits until the page's socket is connected. */
export async function waitConnected(page: Page): Promise<void> {
  await shows(page.locator('body[data-connection="connected"]'));
}

/** A user's entry in the page's presence list, with a given status. */
export function presenceEntry(page: Page, userId: string, status: 'online' | 'offline'): Locator {
  return page.locator(`#presence li[data-user-id="${userId}"][data-status="${status}"]`);
}

/** Waits for an element to be in the DOM; on timeout, saves a `failure-*` screenshot of the page. */
export async function shows(locator: Locator): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
  } catch (error) {
    await screenshot(locator.page(), `failure-${Date.now()}`).catch(() => undefined);
    throw error;
  }
}
