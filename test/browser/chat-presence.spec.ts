import type { Browser } from 'playwright-core';
import { launchChromium, openAs, presenceEntry, screenshot, shows } from './support/browser.js';
import { startSample, type SampleServer } from './support/sample-server.js';

describe('browser: chat and live presence', () => {
  let sample: SampleServer;
  let browser: Browser;

  beforeAll(async () => {
    sample = await startSample({ MESSAGE_RATE_PER_USER: '6' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await sample?.stop();
  });

  it('two users in two browser contexts chat and see each other come and go', async () => {
    const alice = await openAs(browser, sample.url, 'alice');
    await shows(alice.locator('#channel-status', { hasText: 'In #general' }));
    await shows(presenceEntry(alice, 'alice', 'online'));

    // Bob arrives: Alice's list updates live, from the server's presence_update.
    const bob = await openAs(browser, sample.url, 'bob');
    await shows(presenceEntry(alice, 'bob', 'online'));
    await shows(presenceEntry(bob, 'alice', 'online'));
    await shows(bob.locator('#channel-status', { hasText: 'In #general' }));

    await alice.locator('#text').fill('Hello Bob, can you read me?');
    await alice.locator('#composer button[type="submit"]').click();
    await shows(bob.locator('#messages li[data-user-id="alice"]', { hasText: 'Hello Bob, can you read me?' }));
    await bob.locator('#text').fill('Loud and clear, Alice.');
    await bob.locator('#composer button[type="submit"]').click();
    await shows(alice.locator('#messages li[data-user-id="bob"]', { hasText: 'Loud and clear, Alice.' }));
    // Markup in a message is shown as text, never parsed (and the CSP would block its script anyway).
    const markup = '<img src="x" onerror="document.body.dataset.xss = 1"> <b>bold?</b>';
    await bob.locator('#text').fill(markup);
    await bob.locator('#composer button[type="submit"]').click();
    await shows(alice.locator('#messages li[data-user-id="bob"] p', { hasText: '<img src="x"' }));
    expect(await alice.locator('#messages li[data-user-id="bob"] p').last().textContent()).toBe(markup);
    expect(await alice.locator('#messages img, #messages b').count()).toBe(0);
    expect(await alice.locator('body[data-xss]').count()).toBe(0);
    await screenshot(alice, 'chat-presence-1-alice-and-bob-chatting');

    // Bob leaves: Alice sees him go offline, with a last-seen time.
    await bob.context().close();
    await shows(presenceEntry(alice, 'bob', 'offline'));
    await shows(alice.locator('#presence li[data-user-id="bob"]', { hasText: 'last seen' }));
    await screenshot(alice, 'chat-presence-2-bob-went-offline');
    await alice.context().close();
  });

  it('shows the server\'s refusals as a person would read them', async () => {
    // Carol may read #general only, and write nowhere.
    const carol = await openAs(browser, sample.url, 'carol');
    // The page joins #general on connect and then resets the channel picker: wait for that first.
    await shows(carol.locator('#channel-status', { hasText: 'In #general' }));
    await carol.locator('#channel').selectOption('random');
    await carol.locator('#channel-form button[type="submit"]').click();
    await shows(carol.locator('#notices li[data-code="FORBIDDEN"]', { hasText: "You don't have access to #random." }));
    await carol.locator('#channel').selectOption('general');
    await carol.locator('#channel-form button[type="submit"]').click();
    await shows(carol.locator('#channel-status', { hasText: 'In #general' }));
    await carol.locator('#text').fill('may I?');
    await carol.locator('#composer button[type="submit"]').click();
    await shows(carol.locator('#notices li[data-code="FORBIDDEN"]', { hasText: "You can't post in #general" }));
    await shows(carol.locator('#presence-note', { hasText: 'presence:read' }));
    await screenshot(carol, 'chat-presence-3-carol-refused');

    // Dave sends an empty message (validation), then more than the rate allows (6 messages per 10 s, every event counts).
    const dave = await openAs(browser, sample.url, 'dave');
    await shows(dave.locator('#channel-status', { hasText: 'In #general' }));
    await dave.locator('#composer button[type="submit"]').click();
    await shows(dave.locator('#notices li[data-code="VALIDATION_FAILED"]', { hasText: 'Message not sent' }));
    const limited = dave.locator('#notices li[data-code="RATE_LIMITED"]');
    for (let i = 0; i < 12 && (await limited.count()) === 0; i += 1) {
      await dave.locator('#text').fill(`flood number ${i}`);
      await dave.locator('#composer button[type="submit"]').click();
      // Each send settles (delivered back to Dave, or refused) before the next one.
      await shows(dave.locator('#messages li', { hasText: `flood number ${i}` }).or(limited));
    }
    await shows(limited.filter({ hasText: 'Slow down' }));
    await screenshot(dave, 'chat-presence-4-dave-validation-and-rate-limit');
    await carol.context().close();
    await dave.context().close();
  });
});
