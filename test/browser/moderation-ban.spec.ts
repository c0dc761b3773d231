import type { Browser, Page } from 'playwright-core';
import { launchChromium, openAs, presenceEntry, screenshot, shows, UI_TIMEOUT_MS, waitConnected } from './support/browser.js';
import { startSample, type SampleServer } from './support/sample-server.js';

describe('browser: moderation', () => {
  let sample: SampleServer;
  let browser: Browser;

  beforeAll(async () => {
    sample = await startSample();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await sample?.stop();
  });

  /** The moderator's table row of a user. */
  const row = (mod: Page, userId: string) => mod.locator(`#moderation-rows tr[data-user-id="${userId}"]`);

  /** Presses Refresh until the moderator's table shows `count` connections for the user. */
  async function untilConnections(mod: Page, userId: string, count: number): Promise<void> {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    const cell = row(mod, userId).locator('td.connections', { hasText: new RegExp(`^${count}$`) });
    while ((await cell.count()) === 0) {
      if (Date.now() > deadline) throw new Error(`the moderation view never showed ${count} connection(s) for ${userId}`);
      await Promise.all([
        mod.waitForResponse((r) => r.url().endsWith('/moderation/presence'), { timeout: UI_TIMEOUT_MS }),
        mod.locator('#moderation-refresh').click(),
      ]);
    }
  }

  it('a moderator sees connection counts, disconnects and bans a user; the user\'s pages say why', async () => {
    const mod = await openAs(browser, sample.url, 'mod');
    await shows(mod.locator('#moderation:not([hidden])'));

    // Bob, in two tabs: one user, three connections (two sockets, and one mention stream the tabs share).
    const bob = await openAs(browser, sample.url, 'bob');
    const bobTab2 = await bob.context().newPage();
    await bobTab2.goto(sample.url + '/');
    await waitConnected(bobTab2);
    await shows(row(mod, 'bob'));
    await untilConnections(mod, 'bob', 3);
    await screenshot(mod, 'moderation-1-bob-online-twice');

    // Disconnect: every socket of Bob closes, and his pages say so; he may come back.
    await row(mod, 'bob').locator('button[data-action="disconnect"]').click();
    for (const page of [bob, bobTab2]) {
      await shows(page.locator('body[data-connection="disconnected"]'));
      await shows(page.locator('#banner', { hasText: 'disconnected by the server' }));
    }
    await bob.locator('#banner-action', { hasText: 'Reconnect' }).click();
    await waitConnected(bob);

    // Ban: Bob's page shows that he was disconnected, and why; reconnecting is refused.
    await shows(row(mod, 'bob').locator('button[data-action="ban"]'));
    await row(mod, 'bob').locator('button[data-action="ban"]').click();
    await shows(bob.locator('body[data-connection="disconnected"]'));
    await shows(bob.locator('#banner[data-code="BANNED"]', { hasText: 'a moderator banned you' }));
    await shows(presenceEntry(mod, 'bob', 'offline'));
    await shows(row(mod, 'bob').locator('button[data-action="unban"]'));
    await screenshot(bob, 'moderation-2-bob-banned');
    await screenshot(mod, 'moderation-3-moderator-after-ban');

    await bob.locator('#banner-action', { hasText: 'Reconnect' }).click();
    await shows(bob.locator('body[data-connection="refused"]'));
    await shows(bob.locator('#banner[data-code="BANNED"]', { hasText: 'You are banned' }));
    await screenshot(bob, 'moderation-4-bob-reconnect-refused');

    // Unban: Bob can connect again.
    await row(mod, 'bob').locator('button[data-action="unban"]').click();
    await shows(row(mod, 'bob').locator('button[data-action="ban"]'));
    await bob.locator('#banner-action', { hasText: 'Reconnect' }).click();
    await waitConnected(bob);
    await shows(presenceEntry(mod, 'bob', 'online'));

    await bob.context().close();
    await mod.context().close();
  });
});
