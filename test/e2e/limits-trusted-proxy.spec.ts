import { request } from 'node:http';
import { Manager, type Socket } from 'socket.io-client';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { engineUrl } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

const PingGateway = pingGateway('/chat');
const OtherPingGateway = pingGateway('/other');
const PER_ADDRESS = 5;

/** One Engine.IO polling handshake from 127.0.0.1 with the given X-Forwarded-For: its HTTP status. */
function handshake(base: string, forwardedFor?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(engineUrl(base, 'polling'), { agent: false, headers: forwardedFor !== undefined ? { 'x-forwarded-for': forwardedFor } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One Engine.IO connection (polling, with this X-Forwarded-For) that connects to /chat, then /other: both outcomes. */
async function twoNamespaces(base: string, forwardedFor: string, sub: string): Promise<[boolean, boolean]> {
  const manager = new Manager(base, { forceNew: true, reconnection: false, transports: ['polling'], extraHeaders: { 'x-forwarded-for': forwardedFor } });
  const auth = { token: signToken({ sub }) };
  const outcome = (socket: Socket): Promise<boolean> => new Promise((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('connect_error', () => resolve(false));
  });
  try {
    const first = await outcome(manager.socket('/chat', { auth }).connect());
    const second = await outcome(manager.socket('/other', { auth }).connect());
    return [first, second];
  } finally {
    manager.engine?.close();
  }
}

const statuses = async (base: string, count: number, forwardedFor?: (i: number) => string) => {
  const out: number[] = [];
  for (let i = 0; i < count; i += 1) out.push(await handshake(base, forwardedFor?.(i)));
  return out;
};

/** THREATS 43: the per-address handshake limit behind a reverse proxy the app names. */
describe('rateLimit.trustedProxies (THREATS 43)', () => {
  let t: TestApp;
  afterEach(async () => {
    closeAllClients();
    await t.close();
  });

  it('by default X-Forwarded-For is never read: a spoofed header buys no extra handshakes', async () => {
    t = await startApp({ gateways: [PingGateway], security: { rateLimit: { handshakesPerAddress: PER_ADDRESS } } });
    const answers = await statuses(t.url, PER_ADDRESS + 3, (i) => `203.0.113.${i + 1}`);
    expect(answers.slice(0, PER_ADDRESS)).toEqual(Array(PER_ADDRESS).fill(200));
    expect(answers.slice(PER_ADDRESS)).toEqual([403, 403, 403]);
  });

  it('behind a named proxy each client counts by its forwarded address: one client is limited, the others are not', async () => {
    t = await startApp({ gateways: [PingGateway], security: { rateLimit: { handshakesPerAddress: PER_ADDRESS, trustedProxies: ['127.0.0.1'] } } });
    // Twenty clients behind the proxy, one handshake each: all pass (more than the proxy's own budget).
    expect(await statuses(t.url, 20, (i) => `198.51.100.${i + 1}`)).toEqual(Array(20).fill(200));
    // One client over its own budget is refused; the entry added by a client itself (left of the proxy's) is ignored.
    const one = await statuses(t.url, PER_ADDRESS + 2, (i) => `10.9.9.${i}, 192.0.2.7`);
    expect(one).toEqual([...Array(PER_ADDRESS).fill(200), 403, 403]);
    // A malformed header counts against the proxy itself, and socket.io clients still connect with a code on refusal.
    const outcome = await connect(t.url, '/chat', { transports: ['polling'], extraHeaders: { 'x-forwarded-for': '192.0.2.99' }, auth: { token: signToken({ sub: 'behind-proxy' }) } });
    expect(outcome.connected).toBe(true);
    expect(await statuses(t.url, 1, () => 'not-an-ip')).toEqual([200]);
  });

  it('behind a named proxy, a later CONNECT on one connection is charged to the forwarded client, not to the proxy (THREATS 43, 50)', async () => {
    t = await startApp({ gateways: [PingGateway, OtherPingGateway], security: { rateLimit: { handshakesPerAddress: PER_ADDRESS, trustedProxies: ['127.0.0.1'] } } });
    // More clients than the proxy address's own budget, each connecting two namespaces over one connection.
    const outcomes: [boolean, boolean][] = [];
    for (let i = 0; i < PER_ADDRESS + 3; i += 1) outcomes.push(await twoNamespaces(t.url, `198.51.100.${i + 1}`, `client-${i}`));
    expect(outcomes).toEqual(Array(PER_ADDRESS + 3).fill([true, true]));
  });
});
