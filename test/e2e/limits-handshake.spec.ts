import { request } from 'node:http';
import { WebSocket } from 'ws';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { engineUrl } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

const PingGateway = pingGateway('/chat');

const PER_ADDRESS = 10;

interface Answer {
  status: number;
  body: string;
}

/** One Engine.IO polling handshake (GET, no sid) from `localAddress`. */
function pollingHandshake(base: string, localAddress = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(engineUrl(base, 'polling'), { agent: false, localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One Engine.IO websocket handshake (upgrade, no sid): the HTTP status it got (101 when accepted). */
function websocketHandshake(base: string, localAddress = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(engineUrl(base, 'websocket'), { localAddress });
    let answered = false;
    ws.once('open', () => {
      answered = true;
      ws.terminate();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (req, res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.on('error', (error) => {
      if (!answered) reject(error);
    });
  });
}

describe('handshake flood from one address (THREATS 27)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ gateways: [PingGateway], security: { rateLimit: { handshakesPerAddress: PER_ADDRESS, handshakeWindowMs: 60_000 } } });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  it('refuses handshakes past the rate with 403 RATE_LIMITED on both transports, without starving other addresses', async () => {
    // The control client connected before the flood (one handshake of the budget).
    const control = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'control' }) } });
    const answers = await Promise.all(Array.from({ length: PER_ADDRESS + 15 }, () => pollingHandshake(t.url)));
    const accepted = answers.filter((a) => a.status === 200).length;
    expect(accepted).toBe(PER_ADDRESS - 1);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.length).toBe(16);
    for (const answer of refused) {
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toEqual({ code: 4, message: 'RATE_LIMITED' });
    }
    // Engine.IO answers a refused upgrade with 400 and the reason as the body.
    expect(await websocketHandshake(t.url)).toEqual({ status: 400, body: 'RATE_LIMITED' });
    // Another address is not starved, over either transport.
    expect((await pollingHandshake(t.url, '127.0.0.2')).status).toBe(200);
    expect((await websocketHandshake(t.url, '127.0.0.2')).status).toBe(101);
    // engine.io-client hands `localAddress` to `ws` (its websocket transport only).
    const fromOtherAddress: Parameters<typeof connected>[2] & { localAddress: string } = {
      transports: ['websocket'], localAddress: '127.0.0.3', auth: { token: signToken({ sub: 'other' }) },
    };
    const other = await connected(t.url, '/chat', fromOtherAddress);
    expect(await other.emitWithAck('ping')).toEqual({ ok: true });
    // The connection that already existed keeps working.
    expect(await control.emitWithAck('ping')).toEqual({ ok: true });
  });
});
