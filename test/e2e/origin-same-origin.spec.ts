import { WebSocketGateway } from '@nestjs/websockets';
import { startApp, type TestApp } from '../support/app.js';
import { RAW_TRANSPORTS, RawEngineClient, engineUrl, httpRequest, type RawTransport } from '../support/raw-engine.js';
import { WebSocket } from 'ws';
import { signToken } from '../support/tokens.js';

/**
 * THREATS.md case 6, the same-origin side. Browsers send no `Origin` on a same-origin GET, so the
 * first polling request of the app's own page carries only its cookie, `Host` and
 * `Sec-Fetch-Site: same-origin` (which no page can set). That request is the app's own page and is
 * accepted when its host is allowed; anything less (no fetch metadata, same-site, cross-site, an
 * unlisted host, or a real foreign `Origin`) is still refused. Found by the browser suite
 * (test/browser), where the sample's page could not connect over polling.
 */
/** No handlers needed: only the CONNECT answer matters here. */
@WebSocketGateway()
class RootGateway {}

describe('handshake: cookie handshakes from the app\'s own page (no Origin header)', () => {
  let t: TestApp;
  const cookie = () => `rt_session=${signToken()}`;

  beforeAll(async () => {
    t = await startApp({
      gateways: [RootGateway],
      security: {
        credentials: { cookieName: 'rt_session' },
        origins: { allowed: ['https://app.example.test'] },
      },
    });
  });
  afterEach(() => RawEngineClient.closeAll());
  afterAll(async () => { await t.close(); });

  it.each(RAW_TRANSPORTS)('accepts Sec-Fetch-Site: same-origin on an allowed host over %s', async (transport) => {
    const client = await RawEngineClient.open(t.url, {
      transport,
      headers: { cookie: cookie(), host: 'app.example.test', 'sec-fetch-site': 'same-origin' },
    });
    const answer = await client.connect('/');
    expect(answer.type).toBe(0);
  });

  const refused: Array<[string, Record<string, string>]> = [
    ['no fetch metadata', { host: 'app.example.test' }],
    ['Sec-Fetch-Site: same-site', { host: 'app.example.test', 'sec-fetch-site': 'same-site' }],
    ['Sec-Fetch-Site: cross-site', { host: 'app.example.test', 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: none', { host: 'app.example.test', 'sec-fetch-site': 'none' }],
    ['same-origin on a host that is not allowed', { host: 'evil.example.test', 'sec-fetch-site': 'same-origin' }],
    ['same-origin on a look-alike host with a path', { host: 'app.example.test/x', 'sec-fetch-site': 'same-origin' }],
    ['a foreign Origin despite same-origin metadata', { host: 'app.example.test', 'sec-fetch-site': 'same-origin', origin: 'https://evil.example.test' }],
  ];
  for (const transport of RAW_TRANSPORTS) {
    it.each(refused)(`refuses the cookie with %s over ${transport}`, async (_name, headers) => {
      // Engine.IO answers a refused polling request with 403, a refused upgrade with 400.
      expect(await engineStatus(t.url, transport, { cookie: cookie(), ...headers })).toBe(transport === 'polling' ? 403 : 400);
    });
  }
});

/** HTTP status of the engine's first request: 200 (polling open) / 101 (websocket upgrade), or the refusal. */
async function engineStatus(base: string, transport: RawTransport, headers: Record<string, string>): Promise<number> {
  if (transport === 'polling') return (await httpRequest('GET', engineUrl(base, 'polling'), headers)).status;
  const ws = new WebSocket(engineUrl(base, 'websocket'), { headers });
  return new Promise((resolve, reject) => {
    ws.once('upgrade', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.on('error', () => undefined);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}
