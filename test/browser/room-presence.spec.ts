import type { Browser, Page } from 'playwright-core';
import { launchChromium, openAs, screenshot, shows } from './support/browser.js';
import { startSample, type SampleServer } from './support/sample-server.js';

/** The page's "In #general: …" line: a member's name, optionally with their device count. */
function member(page: Page, userId: string) {
  return page.locator(`#room-presence .member[data-user-id="${userId}"]`);
}

/** Waits until the line no longer names `userId`. */
async function gone(page: Page, userId: string): Promise<void> {
  await member(page, userId).first().waitFor({ state: 'detached', timeout: 15_000 });
}

describe('browser: who is in #general, live', () => {
  let sample: SampleServer;
  let browser: Browser;

  beforeAll(async () => {
    sample = await startSample({});
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await sample?.stop();
  });

  it('two users see each other appear and disappear in #general; a user of another tenant in a #general of the same name sees neither', async () => {
    const alice = await openAs(browser, sample.url, 'alice');
    await shows(alice.locator('#room-presence', { hasText: 'In #general:' }));
    await shows(member(alice, 'alice'));

    const dave = await openAs(browser, sample.url, 'dave');
    await shows(dave.locator('#room-presence', { hasText: 'In #general:' }));
    await shows(member(dave, 'dave'));

    const bob = await openAs(browser, sample.url, 'bob');
    await shows(member(alice, 'bob'));
    await shows(member(bob, 'alice'));

    // Bob on a second device: Alice's line reads "bob (2 devices)".
    const bobPhone = await openAs(browser, sample.url, 'bob');
    await shows(alice.locator('#room-presence .member[data-user-id="bob"]', { hasText: 'bob (2 devices)' }));
    await shows(alice.locator('#room-presence', { hasText: 'In #general: alice (you), bob (2 devices)' }));
    await screenshot(alice, 'room-presence-general');

    // One device leaves: still there, with one device.
    await bobPhone.context().close();
    await shows(alice.locator('#room-presence .member[data-user-id="bob"]', { hasText: /^bob$/ }));

    // Bob moves to #random: he disappears from Alice's #general, and she from his line.
    await bob.locator('#channel').selectOption('random');
    await bob.locator('#channel-form button[type="submit"]').click();
    await shows(bob.locator('#room-presence', { hasText: 'In #random:' }));
    await gone(alice, 'bob');
    expect(await member(bob, 'alice').count()).toBe(0);

    // Bob comes back, then closes the page: Alice sees him appear, then disappear.
    await bob.locator('#channel').selectOption('general');
    await bob.locator('#channel-form button[type="submit"]').click();
    await shows(member(alice, 'bob'));
    await bob.context().close();
    await gone(alice, 'bob');

    // Dave (globex, #general too) never saw anyone of acme, and acme never saw him.
    expect(await member(dave, 'alice').count()).toBe(0);
    expect(await member(dave, 'bob').count()).toBe(0);
    expect(await dave.locator('#room-presence').textContent()).toBe('In #general: dave (you)');
    expect(await member(alice, 'dave').count()).toBe(0);
    await alice.context().close();
    await dave.context().close();
  });
});
