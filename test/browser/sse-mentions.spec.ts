import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { launchChromium, openAs, screenshot, shows, UI_TIMEOUT_MS } from './support/browser.js';
import { startSample, type SampleServer } from './support/sample-server.js';
import { waitFor } from '../support/wait.js';

/** Chromium's own EventSource against the sample's GET /chat/notifications. */
describe('browser: live mentions over Server-Sent Events', () => {
  let sample: SampleServer;
  let browser: Browser;
  let attacker: Server;
  let attackerUrl: string;

  beforeAll(async () => {
    sample = await startSample();
    browser = await launchChromium();
    // A page on another origin that opens EventSources to the sample with the visitor's cookie.
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><html><body><pre id="result">attacking…</pre><script>
const results = [];
let done = 0;
for (let i = 0; i < 4; i += 1) {
  const source = new EventSource(${JSON.stringify(sample.url)} + '/chat/notifications', { withCredentials: true });
  const r = { opened: false, events: 0, closed: false };
  results.push(r);
  source.onopen = () => { r.opened = true; };
  source.onmessage = () => { r.events += 1; };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && !r.closed) {
      r.closed = true;
      done += 1;
      if (done === 4) { document.getElementById('result').textContent = JSON.stringify(results); document.body.dataset.done = 'true'; }
    }
  };
}
</script></body></html>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', () => resolve()));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => attacker?.close(() => resolve()));
    await sample?.stop();
  });

  it('Bob\'s page shows Alice\'s @bob live; the stream counts as a connection; a ban ends it with BANNED', async () => {
    const bob = await openAs(browser, sample.url, 'bob');
    await shows(bob.locator('body[data-mentions="live"]'));
    const alice = await openAs(browser, sample.url, 'alice');
    await shows(alice.locator('#channel-status', { hasText: 'In #general' }));
    await shows(bob.locator('#channel-status', { hasText: 'In #general' }));

    await alice.locator('#text').fill('Hey @bob, look at this');
    await alice.locator('#composer button[type="submit"]').click();
    await shows(bob.locator('#mentions li[data-from="alice"][data-channel-id="general"]', { hasText: 'alice: Hey @bob, look at this' }));
    expect(await alice.locator('#mentions li').count()).toBe(0);
    await screenshot(bob, 'sse-1-bob-sees-the-mention');

    // The moderator sees Bob with two connections: his socket and his stream.
    const mod = await openAs(browser, sample.url, 'mod');
    const bobConnections = mod.locator('#moderation-rows tr[data-user-id="bob"] td.connections', { hasText: /^2$/ });
    const deadline = Date.now() + UI_TIMEOUT_MS;
    while ((await bobConnections.count()) === 0) {
      if (Date.now() > deadline) throw new Error('the moderation view never showed 2 connections for bob');
      await Promise.all([
        mod.waitForResponse((r) => r.url().endsWith('/moderation/presence'), { timeout: UI_TIMEOUT_MS }),
        mod.locator('#moderation-refresh').click(),
      ]);
    }

    await mod.locator('#moderation-rows tr[data-user-id="bob"] button[data-action="ban"]').click();
    await shows(bob.locator('body[data-mentions="ended"]'));
    await shows(bob.locator('#mentions-state', { hasText: 'ended: BANNED' }));
    await screenshot(bob, 'sse-2-bob-stream-ended-by-ban');
    await mod.locator('#moderation-rows tr[data-user-id="bob"] button[data-action="unban"]').click();
    await shows(mod.locator('#moderation-rows tr[data-user-id="bob"] button[data-action="ban"]'));
    for (const page of [bob, alice, mod]) await page.context().close();
  });

  it('a cross-site page cannot open EventSources with the victim\'s cookie: refused, no slot, not online', async () => {
    const victim = await browser.newContext();
    const login = await victim.request.post(`${sample.url}/demo/login`, { data: { userId: 'dave' } });
    expect(login.status()).toBe(200);
    const refusedBefore = sample.output.filter((l) => l.includes('origin_refused code=ORIGIN_REJECTED')).length;
    const evil = await victim.newPage();
    await evil.goto(attackerUrl + '/');
    await evil.locator('body[data-done="true"]').waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
    const results = JSON.parse(await evil.locator('#result').innerText()) as { opened: boolean; events: number; closed: boolean }[];
    expect(results).toEqual(Array.from({ length: 4 }, () => ({ opened: false, events: 0, closed: true })));
    await waitFor('four origin_refused lines', () => sample.output.filter((l) => l.includes('origin_refused code=ORIGIN_REJECTED')).length >= refusedBefore + 4, UI_TIMEOUT_MS);
    // Dave still has all of his slots and is not online: his real page connects, with its stream.
    const real = await victim.newPage();
    await real.goto(sample.url + '/');
    await shows(real.locator('body[data-connection="connected"]'));
    await shows(real.locator('body[data-mentions="live"]'));
    await victim.close();
  });
});
