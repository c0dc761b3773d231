import { WebSocketGateway } from '@nestjs/websockets';
import { startApp, type TestApp } from '../support/app.js';
import { RAW_TRANSPORTS, RawEngineClient } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

/**
 * THREATS case 55 (issue 14, suspected item): a sibling subdomain can plant a second cookie of
 * the session cookie's name. Which one is real cannot be told, so a handshake carrying the
 * cookie twice is refused; a `__Host-` cookie name (which no subdomain can set) works as any name.
 */
@WebSocketGateway({ namespace: '/chat' })
class ChatGateway {}

const ORIGIN = 'http://app.example.test';

describe.each(['rt_session', '__Host-rt_session'])('session cookie %s', (cookieName) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ gateways: [ChatGateway], security: { credentials: { cookieName }, origins: { allowed: [ORIGIN] } } });
  });
  afterEach(() => RawEngineClient.closeAll());
  afterAll(async () => { await t.close(); });

  it.each(RAW_TRANSPORTS)('one cookie from an allowed Origin authenticates over raw %s', async (transport) => {
    const client = await RawEngineClient.open(t.url, { transport, headers: { origin: ORIGIN, cookie: `theme=dark; ${cookieName}=${signToken({ sub: 'victim' })}` } });
    expect((await client.connect('/chat')).type).toBe(0);
  });

  it.each(RAW_TRANSPORTS)('a planted second cookie of the same name is refused UNAUTHORIZED over raw %s, whichever comes first', async (transport) => {
    const planted = signToken({ sub: 'attacker' });
    const real = signToken({ sub: 'victim' });
    for (const cookie of [`${cookieName}=${planted}; ${cookieName}=${real}`, `${cookieName}=${real}; other=1; ${cookieName}=${planted}`]) {
      const client = await RawEngineClient.open(t.url, { transport, headers: { origin: ORIGIN, cookie } });
      const answer = await client.connect('/chat');
      expect(answer.type).toBe(4);
      expect(answer.data).toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    }
  });
});
