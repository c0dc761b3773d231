import type { Socket as ClientSocket } from 'socket.io-client';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { closeAllClients, connect, connected, TRANSPORTS } from '../support/clients.js';
import { Probe, probeGateway } from '../support/probe.gateway.js';
import { RAW_TRANSPORTS, RawEngineClient, connectPrefix } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/** THREATS.md cases 1 (no or bad credentials), 7 (token in the query string), 13 (engine sid). */

const NAMESPACES = ['/', '/chat'];

const BAD_AUTH: Array<[string, Record<string, unknown> | undefined]> = [
  ['no auth payload', undefined],
  ['an empty auth payload', {}],
  ['an empty token', { token: '' }],
  ['a null token', { token: null }],
  ['a number token', { token: 42 }],
  ['an array token', { token: ['a.b.c'] }],
  ['an object token', { token: { sub: 'alice' } }],
  ['a blank token', { token: ' ' }],
  ['an oversized token', { token: 'a'.repeat(9000) }],
];

const BAD_AUTHORIZATION: Array<[string, string]> = [
  ['an empty Bearer', 'Bearer '],
  ['a Basic scheme', 'Basic YWxpY2U6c2VjcmV0'],
  ['a bare token without scheme', signToken()],
  ['a Bearer non-JWT', 'Bearer not-a-token'],
];

describe('handshake: credentials', () => {
  const logger = new CapturingLogger();
  let t: TestApp;
  let probe: Probe;
  let lifecycle: ConnectionLifecycle;
  let control: ClientSocket;

  beforeAll(async () => {
    t = await startApp({
      gateways: [probeGateway(undefined), probeGateway('/chat')],
      providers: [Probe],
      logger,
      security: { logSecurityEvents: true },
    });
    probe = t.app.get(Probe);
    lifecycle = t.app.get(ConnectionLifecycle);
    control = await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'control' }) } });
  });

  beforeEach(() => probe.reset());

  afterEach(async () => {
    closeAllClients();
    await RawEngineClient.closeAll();
    // The control client connected before the attacks still works.
    if (!control.connected) control = await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'control' }) } });
    await expect(control.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'control' });
  });

  afterAll(async () => {
    control.disconnect();
    await t.close();
  });

  describe.each(TRANSPORTS)('over %s (socket.io-client)', (transport) => {
    describe.each(NAMESPACES)('on %s', (nsp) => {
      it.each(BAD_AUTH)('refuses %s with UNAUTHORIZED; no handler, no event', async (_name, auth) => {
        const outcome = await connect(t.url, nsp, { transports: [transport], ...(auth !== undefined ? { auth } : {}) });
        const events: string[] = [];
        outcome.socket.onAny((event: string) => events.push(event));
        expect(outcome.connected).toBe(false);
        expect(outcome.error?.message).toBe('Connection refused');
        expect(outcome.error?.data).toEqual({ code: 'UNAUTHORIZED' });
        expect(probe.connections).toEqual([]);
        expect(probe.calls).toEqual([]);
        expect(events).toEqual([]);
        // A refused client never holds a slot: only the control client's remains (closes of
        // earlier tests' clients may still be in flight, hence the wait).
        await waitFor('only the control client to hold a slot', () => lifecycle.connectionCount === 1);
      });
    });
  });

  describe.each(RAW_TRANSPORTS)('over raw %s', (transport) => {
    it.each(NAMESPACES)('a refused client on %s gets exactly one CONNECT_ERROR, and its events are never handled', async (nsp) => {
      const raw = await RawEngineClient.open(t.url, { transport });
      const answer = await raw.connect(nsp, { token: 'not-a-token' });
      expect(answer.type).toBe(4);
      expect(answer.data).toEqual({ message: 'Connection refused', data: { code: 'UNAUTHORIZED' } });
      await raw.send(`2${nsp === '/' ? '' : `${nsp},`}["ev",{}]`, `2${nsp === '/' ? '' : `${nsp},`}1["ev",{}]`);
      await raw.closed; // an event on a namespace it is not connected to is a protocol error: Socket.IO closes
      expect(raw.history.map((p) => p.type)).toEqual([4]);
      expect(probe.connections).toEqual([]);
      expect(probe.calls).toEqual([]);
    });

    it.each(BAD_AUTHORIZATION)('refuses an Authorization header with %s', async (_name, authorization) => {
      const raw = await RawEngineClient.open(t.url, { transport, headers: { authorization } });
      const answer = await raw.connect('/chat');
      expect(answer.data).toEqual({ message: 'Connection refused', data: { code: 'UNAUTHORIZED' } });
      expect(probe.connections).toEqual([]);
    });

    it('accepts a good Bearer header (control for the cases above)', async () => {
      const raw = await RawEngineClient.open(t.url, { transport, headers: { authorization: `Bearer ${signToken()}` } });
      const answer = await raw.connect('/chat');
      expect(answer.type).toBe(0);
      expect(probe.connectionsOn('/chat')).toBe(1);
    });
  });

  describe('token in the query string (case 7)', () => {
    const token = signToken({ sub: 'leaky' });
    const QUERIES: Array<[string, Record<string, string>]> = [
      ['?token=', { token }],
      ['?access_token=', { access_token: token }],
      ['?Authorization=', { Authorization: `Bearer ${token}` }],
      ['a JWT-shaped value under any name', { foo: token }],
      ['a Bearer JWT under any name', { h: `Bearer ${token}` }],
    ];

    describe.each(TRANSPORTS)('over %s', (transport) => {
      it.each(QUERIES)('refuses %s, even beside a valid auth token, and never logs it', async (_name, query) => {
        const alone = await connect(t.url, '/chat', { transports: [transport], query });
        expect(alone.connected).toBe(false);
        expect(alone.error?.data?.code).toBe('UNAUTHORIZED');
        const beside = await connect(t.url, '/chat', { transports: [transport], query, auth: { token: signToken() } });
        expect(beside.connected).toBe(false);
        expect(beside.error?.data?.code).toBe('UNAUTHORIZED');
        expect(probe.connections).toEqual([]);
        // The refusals were logged (the check below is not vacuous) ...
        expect(logger.matching('handshake_refused').length).toBeGreaterThan(0);
        // ... and neither the token nor its signature is in any log line.
        expect(logger.text()).not.toContain(token);
        expect(logger.text()).not.toContain(token.split('.')[2]);
      });
    });
  });

  describe('the engine sid (case 13)', () => {
    it.each(RAW_TRANSPORTS)('never appears in a payload or a log line (raw %s)', async (transport) => {
      const good = await RawEngineClient.open(t.url, { transport });
      const ok = await good.connect('/chat', { token: signToken({ sub: 'sid-owner' }) });
      expect(ok.type).toBe(0);
      await good.send('2/chat,7["ev",{}]');
      await good.next((p) => p.type === 3 && p.id === 7);
      await good.send(`${connectPrefix('/')}{"token":"bad"}`);
      await good.next((p) => p.type === 4 && p.nsp === '/');
      const bad = await RawEngineClient.open(t.url, { transport });
      await bad.connect('/chat', { token: 'bad' });
      for (const raw of [good, bad]) {
        expect(raw.sid.length).toBeGreaterThan(10);
        expect(raw.history.length).toBeGreaterThan(0);
        for (const packet of raw.history) expect(packet.raw).not.toContain(raw.sid);
        expect(logger.text()).not.toContain(raw.sid);
      }
      expect(logger.matching('handshake_refused').length).toBeGreaterThan(0);
    });

    it.each(TRANSPORTS)('is not the socket id a socket.io-client (%s) sees', async (transport) => {
      const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: signToken() } });
      const engineId = socket.io.engine.id;
      expect(engineId).toBeDefined();
      expect(socket.id).not.toBe(engineId);
      const answer: unknown = await socket.emitWithAck('ev', {});
      expect(JSON.stringify(answer)).not.toContain(engineId);
      expect(logger.text()).not.toContain(engineId);
    });
  });
});
