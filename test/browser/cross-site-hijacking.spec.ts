import type { Browser, Request } from 'playwright-core';
import { waitFor } from '../support/wait.js';
import { launchChromium, openAs, presenceEntry, screenshot, shows, UI_TIMEOUT_MS, waitConnected } from './support/browser.js';
import { startAttackerSite, type AttackAttempt, type AttackerSite } from './support/attacker-site.js';
import { startSample, type SampleServer } from './support/sample-server.js';

// THREATS.md case 6. The attacker's page is on 127.0.0.1 too, on another port: the same *site*
// (so the SameSite=Lax cookie is sent) but another *origin*. Only the Origin check stands between it
// and the victim's session: browsers do not apply CORS to WebSockets.
describe('browser: cross-site WebSocket hijacking', () => {
  let sample: SampleServer;
  let attacker: AttackerSite;
  let browser: Browser;

  beforeAll(async () => {
    sample = await startSample();
    attacker = await startAttackerSite(sample.url);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await attacker?.close();
    await sample?.stop();
  });

  it('refuses a foreign page that carries the victim\'s cookie: no connection, no event, no presence change', async () => {
    // Bob watches presence and #general.
    const bob = await openAs(browser, sample.url, 'bob');
    await shows(bob.locator('#channel-status', { hasText: 'In #general' }));

    // Alice (the victim) has a session cookie from the real site, but no page of it open.
    const victim = await browser.newContext({ viewport: { width: 1200, height: 820 } });
    const login = await victim.request.post(`${sample.url}/demo/login`, { data: { userId: 'alice' } });
    expect(login.status()).toBe(200);
    const cookie = (await victim.cookies(sample.url)).find((c) => c.name === 'rt_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });

    // She visits the attacker's page, which tries to use her cookie against the sample.
    const refusedBefore = sample.output.filter((l) => l.includes('origin_refused code=ORIGIN_REJECTED')).length;
    const evil = await victim.newPage();
    const handshakes: Request[] = [];
    evil.on('request', (request) => {
      if (request.url().startsWith(`${sample.url}/socket.io/`)) handshakes.push(request);
    });
    await evil.goto(attacker.url + '/');
    await evil.locator('body[data-done="true"]').waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
    const attempts = JSON.parse(await evil.locator('#result').innerText()) as AttackAttempt[];
    await screenshot(evil, 'cross-site-1-attacker-page-refused');

    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) {
      expect({ name: attempt.name, connected: attempt.connected, events: attempt.events }).toEqual({ name: attempt.name, connected: false, events: [] });
      expect(attempt.error).not.toBeNull();
    }
    // The browser did attach her cookie: the sample's engine gate refuses a foreign Origin only on
    // a cookie-bearing request (without one it would pass on, to fail later as UNAUTHORIZED), and
    // logs each such refusal as origin_refused. (Chromium hides the headers of a CORS-failed request.)
    expect(handshakes.length).toBeGreaterThan(0);
    await waitFor('three origin_refused log lines', () => sample.output.filter((l) => l.includes('origin_refused code=ORIGIN_REJECTED')).length >= refusedBefore + 3, UI_TIMEOUT_MS);

    // Barrier: Carol connects after the attack; once Bob sees her, any presence change or message
    // from the attack would have reached him before.
    const carol = await openAs(browser, sample.url, 'carol');
    await shows(presenceEntry(bob, 'carol', 'online'));
    expect(await presenceEntry(bob, 'alice', 'online').count()).toBe(0);
    expect(await bob.locator('#messages li[data-user-id="alice"]').count()).toBe(0);
    expect(await bob.locator('body', { hasText: 'hijacked' }).count()).toBe(0);
    await screenshot(bob, 'cross-site-2-observer-saw-nothing');

    // Control: the same cookie from the real page (the allowed origin) connects.
    const real = await victim.newPage();
    await real.goto(sample.url + '/');
    await waitConnected(real);
    await shows(presenceEntry(bob, 'alice', 'online'));

    // No log line carries the session cookie.
    expect(sample.output.filter((line) => line.includes(cookie?.value ?? 'no-cookie'))).toEqual([]);

    await carol.context().close();
    await victim.close();
    await bob.context().close();
  });
});
