import type { Namespace, Server, Socket } from 'socket.io';
import { Manager, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from 'socket.io-client';
import { connect } from '../support/clients.js';
import { useProbeApp } from '../support/probe-app.js';
import { Probe, probeGateway } from '../support/probe.gateway.js';
import { RawEngineClient } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

/**
 * THREATS.md cases 11 (every namespace is protected) and 12 (polling, websocket and the
 * polling→websocket upgrade give identical results).
 */

type Mode = 'polling' | 'websocket' | 'upgrade';
const MODES: Mode[] = ['polling', 'websocket', 'upgrade'];

const MODE_OPTIONS: Record<Mode, Partial<ManagerOptions & SocketOptions>> = {
  polling: { transports: ['polling'] },
  websocket: { transports: ['websocket'] },
  upgrade: { transports: ['polling', 'websocket'], upgrade: true },
};

/** Waits for the upgrade in 'upgrade' mode, and checks the transport in every mode. */
async function settleTransport(socket: ClientSocket, mode: Mode): Promise<void> {
  const engine = socket.io.engine;
  if (mode === 'upgrade' && engine.transport.name !== 'websocket') await new Promise((resolve) => engine.once('upgrade', resolve));
  expect(engine.transport.name).toBe(mode === 'polling' ? 'polling' : 'websocket');
}

/** `afterInit` of the root gateway: a namespace created after start-up and a function namespace. */
function lateNamespaces(probe: { current?: Probe }) {
  return (server: Server | Namespace): void => {
    const io = server as Server;
    const record = (nsp: Namespace) => nsp.on('connection', (socket: Socket) => {
      probe.current?.connections.push(socket.nsp.name);
      socket.on('ev', (_body: unknown, ack: (answer: unknown) => void) => {
        const principal = (socket.data as { principal: { userId: string; expiresAt: number } }).principal;
        probe.current?.calls.push({ nsp: socket.nsp.name, userId: principal.userId, at: Date.now(), expiresAt: principal.expiresAt });
        ack({ ok: true, nsp: socket.nsp.name, userId: principal.userId });
      });
    });
    record(io.of('/late'));
    record(io.of((name, _auth, next) => next(null, /^\/fn-\w+$/.test(name))));
  };
}

const PROTECTED = ['/', '/chat', '/dyn-abc', '/dyn-other', '/late', '/fn-x'];

describe('namespaces and transports', () => {
  const probeRef: { current?: Probe } = {};
  const { t, probe } = useProbeApp({
    gateways: [probeGateway(undefined, {}, lateNamespaces(probeRef)), probeGateway('/chat'), probeGateway(/^\/dyn-\w+$/)],
  });
  probeRef.current = probe;
  afterEach(() => RawEngineClient.closeAll());

  describe.each(MODES)('%s', (mode) => {
    describe.each(PROTECTED)('namespace %s', (nsp) => {
      it('refuses a client without a token: UNAUTHORIZED, no handler', async () => {
        const outcome = await connect(t.url, nsp, MODE_OPTIONS[mode]);
        expect(outcome.connected).toBe(false);
        expect(outcome.error?.message).toBe('Connection refused');
        expect(outcome.error?.data).toEqual({ code: 'UNAUTHORIZED' });
        expect(probe.connections).toEqual([]);
      });

      it('refuses an expired token: TOKEN_EXPIRED', async () => {
        const outcome = await connect(t.url, nsp, { ...MODE_OPTIONS[mode], auth: { token: signToken({}, { expiresInSeconds: -600 }) } });
        expect(outcome.error?.data).toEqual({ code: 'TOKEN_EXPIRED' });
        expect(probe.connections).toEqual([]);
      });

      it('accepts a good token and handles its events as the principal', async () => {
        const outcome = await connect(t.url, nsp, { ...MODE_OPTIONS[mode], auth: { token: signToken({ sub: 'dora' }) } });
        expect(outcome.error?.data).toBeUndefined();
        await settleTransport(outcome.socket, mode);
        await expect(outcome.socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, nsp, userId: 'dora' });
        expect(probe.connectionsOn(nsp)).toBe(1);
        expect(probe.callsOn(nsp)).toBe(1);
      });
    });

    it.each(['/nobody', '/dyn-', '/dyn-a.b', '/fn-'])('refuses the undeclared namespace %s even with a good token', async (nsp) => {
      const outcome = await connect(t.url, nsp, { ...MODE_OPTIONS[mode], auth: { token: signToken() } });
      expect(outcome.connected).toBe(false);
      expect(outcome.error?.message).toBe('Invalid namespace');
      expect(probe.connections).toEqual([]);
    });

    it('authenticates each namespace of one connection on its own (a good / does not open /chat)', async () => {
      const manager = new Manager(t.url, { ...MODE_OPTIONS[mode], reconnection: false });
      try {
        const root = manager.socket('/', { auth: { token: signToken() } });
        await new Promise((resolve, reject) => { root.once('connect', () => resolve(undefined)); root.once('connect_error', reject); });
        const chat = manager.socket('/chat', { auth: {} });
        const error = await new Promise<Error & { data?: unknown }>((resolve) => chat.once('connect_error', resolve));
        expect(error.data).toEqual({ code: 'UNAUTHORIZED' });
        expect(probe.connectionsOn('/chat')).toBe(0);
        await expect(root.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, nsp: '/' });
      } finally {
        manager._close();
      }
    });
  });

  describe('raw polling→websocket upgrade', () => {
    it('a CONNECT sent after the upgrade is authenticated like any other', async () => {
      const raw = await RawEngineClient.open(t.url, { transport: 'polling' });
      await raw.upgrade();
      expect((await raw.connect('/chat', { token: 'bad' })).data).toEqual({ message: 'Connection refused', data: { code: 'UNAUTHORIZED' } });
      expect((await raw.connect('/dyn-abc', { token: signToken() })).type).toBe(0);
      await raw.send('2/dyn-abc,4["ev",{}]');
      await expect(raw.next((p) => p.type === 3 && p.id === 4)).resolves.toMatchObject({ data: [{ ok: true, nsp: '/dyn-abc' }] });
      expect(probe.connections).toEqual(['/dyn-abc']);
    });

    it('a session authenticated over polling keeps working, once, over websocket', async () => {
      const raw = await RawEngineClient.open(t.url, { transport: 'polling' });
      expect((await raw.connect('/chat', { token: signToken() })).type).toBe(0);
      await raw.upgrade();
      expect(raw.transport).toBe('websocket');
      await raw.send('2/chat,6["ev",{}]');
      await expect(raw.next((p) => p.type === 3 && p.id === 6)).resolves.toMatchObject({ data: [{ ok: true }] });
      expect(probe.callsOn('/chat')).toBe(1);
      expect(probe.connectionsOn('/chat')).toBe(1);
    });

    it('events in the same flight as a bad CONNECT after the upgrade are never handled', async () => {
      const raw = await RawEngineClient.open(t.url, { transport: 'polling' });
      await raw.upgrade();
      await raw.send('0/chat,{"token":"bad"}', '2/chat,["ev",{}]', '2/chat,1["ev",{}]');
      await raw.closed;
      expect(probe.calls).toEqual([]);
    });
  });
});
