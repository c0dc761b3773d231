import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConnectedSocket, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket as ServerSocket } from 'socket.io';
import type { Socket } from 'socket.io-client';
import { SecureIoAdapter, WsPublic } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, nextEvent, TRANSPORTS, type Transport } from '../support/clients.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'sample-burst-secret-0123456789-abcdefghijklmnopq';
/** The sample's default `MESSAGE_RATE_PER_USER` (per 10 s). */
const LIMIT = 100;

type Ack = { ok?: boolean; error?: { code: string; retryAfterMs?: number } };
type Outcome = 'ok' | 'RATE_LIMITED' | 'other' | 'lost';

/** Sends `n` messages back to back (no ack awaited before the next) and collects every answer. */
async function burst(socket: Socket, n: number, event = 'message:send', body: (i: number) => unknown = (i) => ({ channelId: 'general', text: `m${i}` })): Promise<{ outcomes: Outcome[]; acks: Ack[] }> {
  const acks: Ack[] = [];
  const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => (socket.timeout(20_000).emitWithAck(event, body(i)) as Promise<Ack>).then(
    (ack): Outcome => {
      acks.push(ack);
      return ack.ok === true ? 'ok' : ack.error?.code === 'RATE_LIMITED' ? 'RATE_LIMITED' : 'other';
    },
    (): Outcome => 'lost',
  )));
  return { outcomes, acks };
}

const tally = (outcomes: Outcome[]) => outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o]: (t[o] ?? 0) + 1 }), {});

/**
 * THREATS 40 (issue 17): a burst sent without waiting for acks (an offline outbox flushed at once)
 * against the sample's defaults (100 messages per 10 s, 5 strikes): every ack is answered, the
 * budget is handled exactly, the socket stays; a client that keeps sending after it was told is
 * still disconnected.
 */
describe('sample app: bursts are answered, penalties only for flooders (THREATS 40)', () => {
  let app: INestApplication;
  let url: string;
  let users = 0;
  const token = () => signToken({ sub: `burst-${++users}`, tenant: 'acme', perms: ['channel:*'] }, { secret: SECRET });
  /** A second user in `general` who counts the messages really handled (broadcast by the handler). */
  let observer: Socket;
  let seen = 0;

  beforeAll(async () => {
    const config = loadSampleConfig({ JWT_SECRET: SECRET, DEMO_LOGIN: 'off', ALLOWED_ORIGINS: 'http://127.0.0.1:1', HANDSHAKE_RATE_PER_ADDRESS: '0' });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  beforeEach(async () => {
    observer = await connected(url, '/chat', { transports: ['websocket'], auth: { token: token() } });
    expect(await observer.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    seen = 0;
    observer.on('message', () => { seen += 1; });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await app.close(); });

  /** A fresh user's socket, joined to `general` (the join costs one message of the budget). */
  const joined = async (transport: Transport, t = token()) => {
    const socket = await connected(url, '/chat', { transports: [transport], auth: { token: t } });
    expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    return socket;
  };

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it.each([150, 10 * LIMIT - 1])('%i messages at once: the budget handled, every other ack RATE_LIMITED with retryAfterMs, still connected', async (n) => {
      const socket = await joined(transport);
      const exceptions: unknown[] = [];
      socket.on('exception', (e) => exceptions.push(e));
      const { outcomes, acks } = await burst(socket, n);
      // The join took one message of the budget.
      expect(tally(outcomes)).toEqual({ ok: LIMIT - 1, RATE_LIMITED: n - (LIMIT - 1) });
      for (const ack of acks.filter((a) => a.ok !== true)) {
        expect(ack.error?.retryAfterMs).toBeGreaterThanOrEqual(1000);
        expect(ack.error?.retryAfterMs).toBeLessThanOrEqual(10_000);
      }
      await waitFor(`${LIMIT - 1} messages broadcast`, () => seen >= LIMIT - 1);
      expect(seen).toBe(LIMIT - 1);
      expect(socket.connected).toBe(true);
      expect(exceptions).toEqual([]);
      // Still refused (the window has not passed), still connected: a refusal is not a close.
      expect(((await socket.emitWithAck('message:send', { channelId: 'general', text: 'again' })) as Ack).error?.code).toBe('RATE_LIMITED');
      expect(socket.connected).toBe(true);
    }, 60_000);
  });

  it('a burst spread over three sockets of one user: the user budget handled once, every ack answered, all stay connected', async () => {
    const t = token();
    const sockets = await Promise.all([0, 1, 2].map(() => joined('websocket', t)));
    const results = await Promise.all(sockets.map((socket) => burst(socket, 333)));
    const outcomes = results.flatMap((r) => r.outcomes);
    expect(tally(outcomes)).toEqual({ ok: LIMIT - 3, RATE_LIMITED: 999 - (LIMIT - 3) });
    await waitFor(`${LIMIT - 3} messages broadcast`, () => seen >= LIMIT - 3);
    expect(seen).toBe(LIMIT - 3);
    for (const socket of sockets) expect(socket.connected).toBe(true);
  }, 60_000);

  it('a client that keeps sending after it was told is disconnected; every ack it was promised is answered first', async () => {
    const socket = await joined('websocket');
    expect(tally((await burst(socket, 2 * LIMIT)).outcomes)).toEqual({ ok: LIMIT - 1, RATE_LIMITED: LIMIT + 1 });
    const told = nextEvent<Ack>(socket, 'exception');
    const gone = nextEvent<string>(socket, 'disconnect');
    // It keeps retrying at once, ignoring retryAfterMs: past the grace, each refusal is a strike.
    const answers: Outcome[] = [];
    const started = Date.now();
    while (socket.connected && Date.now() - started < 30_000) {
      const [answer] = (await burst(socket, 1)).outcomes;
      answers.push(answer as Outcome);
    }
    expect((await told).error?.code).toBe('RATE_LIMITED');
    expect(await gone).toBe('io server disconnect');
    // Sent while connected: all answered (the one racing the close may be cut by the close itself).
    expect(answers.slice(0, -1).every((a) => a === 'RATE_LIMITED')).toBe(true);
    expect(seen).toBe(LIMIT - 1);
  }, 60_000);
});

/** Handler runs per user; the handler answers on a later turn, as a handler awaiting I/O would. */
const handled = new Map<string, number>();

@WebSocketGateway({ namespace: '/slow' })
@WsPublic()
class SlowGateway {
  @SubscribeMessage('work')
  async work(@ConnectedSocket() socket: ServerSocket) {
    const user = (socket.data as { principal: { userId: string } }).principal.userId;
    handled.set(user, (handled.get(user) ?? 0) + 1);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { ok: true };
  }
}

describe('penalty close flushes what was answered (THREATS 40)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No grace: the burst itself is penalised, the strict setting of before.
    t = await startApp({ gateways: [SlowGateway], security: { rateLimit: { messageLimit: 10, messageWindowMs: 60_000, strikes: 2, strikeGraceMs: 0, handshakesPerAddress: 0 } } });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  it.each(TRANSPORTS)('with strikeGraceMs 0 a burst is cut off, but every accepted message is handled and its ack arrives before the close (%s)', async (transport) => {
    const user = `strict-${transport}`;
    const socket = await connected(t.url, '/slow', { transports: [transport], auth: { token: signToken({ sub: user }) } });
    const told = nextEvent<Ack>(socket, 'exception');
    const gone = nextEvent<string>(socket, 'disconnect');
    const { outcomes } = await burst(socket, 40, 'work', () => ({}));
    expect(await told).toEqual({ error: { code: 'RATE_LIMITED', message: 'Rate limit exceeded' } });
    expect(await gone).toBe('io server disconnect');
    // Every ack answered before the close: 10 handled, the other 30 refused with retryAfterMs.
    expect(tally(outcomes)).toEqual({ ok: 10, RATE_LIMITED: 30 });
    expect(handled.get(user)).toBe(10);
  }, 30_000);
});
