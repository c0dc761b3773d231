import { WebSocketGateway } from '@nestjs/websockets';
import { WebSocket } from 'ws';
import { startApp, type TestApp } from '../support/app.js';
import { RAW_TRANSPORTS, RawEngineClient, decodeSio, engineUrl } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

/**
 * Seed 003's edge case: a token carried anywhere but the three documented carriers (`auth.token`,
 * `Authorization: Bearer`, the configured cookie) authenticates nobody, in particular a token in
 * `Sec-WebSocket-Protocol` (a common browser workaround) or in an ad-hoc header or cookie.
 */
@WebSocketGateway({ namespace: '/chat' })
class ChatGateway {}

describe('handshake: only the documented credential carriers authenticate', () => {
  let t: TestApp;
  const token = signToken();

  beforeAll(async () => {
    t = await startApp({ gateways: [ChatGateway], security: { credentials: { cookieName: 'rt_session' }, origins: { allowed: ['http://app.example.test'] } } });
  });
  afterEach(() => RawEngineClient.closeAll());
  afterAll(async () => { await t.close(); });

  it.each(RAW_TRANSPORTS)('accepts auth.token over raw %s (control)', async (transport) => {
    const client = await RawEngineClient.open(t.url, { transport });
    expect((await client.connect('/chat', { token })).type).toBe(0);
  });

  it('refuses a token offered as a WebSocket subprotocol with UNAUTHORIZED', async () => {
    const ws = new WebSocket(engineUrl(t.url, 'websocket'), ['access_token', token]);
    const refusal = new Promise<string>((resolve, reject) => {
      ws.on('message', (data) => {
        const text = String(data);
        if (text[0] === '0') ws.send('40/chat,');
        // The CONNECT answer: 40/chat,{sid} (accepted) or 44/chat,{...} (refused).
        if (text.startsWith('40/chat,') || text.startsWith('44/chat,')) resolve(text.slice(1));
      });
      ws.once('error', reject);
    });
    const packet = decodeSio(await refusal);
    expect(packet.type).toBe(4);
    expect(packet.data).toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    ws.close();
  });

  it.each(RAW_TRANSPORTS)('refuses tokens in other headers and cookies over raw %s', async (transport) => {
    const headers = {
      'sec-websocket-protocol-token': token,
      'x-access-token': token,
      'x-auth-token': token,
      authorization_token: token,
      cookie: `session=${token}; jwt=${token}`,
    };
    const client = await RawEngineClient.open(t.url, { transport, headers });
    const answer = await client.connect('/chat');
    expect(answer.type).toBe(4);
    expect(answer.data).toMatchObject({ data: { code: 'UNAUTHORIZED' } });
  });
});
