import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, nextEvent, TRANSPORTS } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';

const PingGateway = pingGateway('/chat');

type Ack = { ok?: boolean; expiresAt?: number; error?: { code: string; retryAfterMs?: number } };

const LIMIT = 5;

/** THREATS 24: every event a client sends costs one message, whether or not a handler sees it. */
describe('message budget covers events no handler sees', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startApp({ gateways: [PingGateway], security: { rateLimit: { messageLimit: LIMIT, messageWindowMs: 60_000, strikes: 3, strikeGraceMs: 0 } } });
  });
  afterEach(async () => {
    closeAllClients();
    await t.close();
  });

  it.each(TRANSPORTS)('unknown and reserved event names are counted and refused with RATE_LIMITED over %s', async (transport) => {
    const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'flooder' }) } });
    const codes: string[] = [];
    for (let i = 0; i < LIMIT; i += 1) codes.push(((await socket.emitWithAck(i % 2 === 0 ? 'no-such-event' : 'error', {})) as Ack).error?.code ?? 'ok');
    expect(codes).toEqual(['NOT_FOUND', 'BAD_REQUEST', 'NOT_FOUND', 'BAD_REQUEST', 'NOT_FOUND']);
    const over = (await socket.emitWithAck('no-such-event', {})) as Ack;
    expect(over.error?.code).toBe('RATE_LIMITED');
    expect(over.error?.retryAfterMs).toBeGreaterThan(0);
    // The budget is the user's: a handled event is refused too.
    expect(((await socket.emitWithAck('ping', {})) as Ack).error?.code).toBe('RATE_LIMITED');
  });

  it('a flood of unknown events without acks is counted, and repeated flooding disconnects', async () => {
    const socket = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'silent' }) } });
    const told = nextEvent<Ack>(socket, 'exception');
    const closed = nextEvent<string>(socket, 'disconnect');
    for (let i = 0; i < LIMIT + 10; i += 1) socket.emit('no-such-event', { i });
    expect((await told).error?.code).toBe('RATE_LIMITED');
    await closed;
  });

  it('auth:refresh counts against the budget (each one costs a signature check)', async () => {
    const socket = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'refresher' }) } });
    for (let i = 0; i < LIMIT; i += 1) {
      expect(((await socket.emitWithAck('auth:refresh', { token: signToken({ sub: 'refresher' }) })) as Ack).ok).toBe(true);
    }
    const over = (await socket.emitWithAck('auth:refresh', { token: signToken({ sub: 'refresher' }) })) as Ack;
    expect(over.error?.code).toBe('RATE_LIMITED');
  });

  it('another user keeps being served while one floods', async () => {
    const flooder = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'f2' }) } });
    const control = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'control' }) } });
    for (let i = 0; i < LIMIT + 2; i += 1) await flooder.emitWithAck('no-such-event', {});
    expect(((await control.emitWithAck('ping', {})) as Ack).ok).toBe(true);
  });
});
