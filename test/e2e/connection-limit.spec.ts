import { Injectable } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import { Manager, type Socket as ClientSocket } from 'socket.io-client';
import type { Namespace, Server, Socket } from 'socket.io';
import WebSocket from 'ws';
import {
  InMemoryConnectionLeaseStore,
  InMemoryPresenceStore,
  InvalidRealtimeSecurityOptionsError,
  ModerationService,
  PresenceService,
  SecurityErrorCode,
  userKey,
  WsPublic,
  type ConnectionLeaseStore,
  type RealtimeSecurityOptions,
} from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, connected, nextEvent, TRANSPORTS, type Transport } from '../support/clients.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/** Wraps the in-memory store and records every call, so "released exactly once" can be checked. */
class RecordingLeaseStore implements ConnectionLeaseStore {
  readonly inner = new InMemoryConnectionLeaseStore();
  readonly granted = new Map<string, string>();
  readonly releases = new Map<string, number>();
  /** Resolve to let pending acquires through (see `hold`). */
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  pendingAcquires = 0;

  async acquire(key: string, leaseId: string, max: number): Promise<boolean> {
    this.pendingAcquires += 1;
    if (this.gate !== null) await this.gate;
    this.pendingAcquires -= 1;
    const ok = await this.inner.acquire(key, leaseId, max);
    if (ok) this.granted.set(leaseId, key);
    return ok;
  }

  async release(key: string, leaseId: string): Promise<void> {
    this.releases.set(leaseId, (this.releases.get(leaseId) ?? 0) + 1);
    await this.inner.release(key, leaseId);
  }

  count(key: string): Promise<number> {
    return this.inner.count(key);
  }

  /** Holds every acquire until `let()`. */
  hold(): void {
    this.gate = new Promise((resolve) => { this.openGate = resolve; });
  }

  let(): void {
    this.openGate?.();
    this.gate = null;
  }

  /** Leases whose acquire threw: their outcome is unknown, so the lifecycle releases them too (idempotent). */
  readonly failed = new Set<string>();

  /** Every granted lease, and every lease whose acquire failed, was released exactly once; nothing else was. */
  expectBalanced(): void {
    expect([...this.releases.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(new Set(this.releases.keys())).toEqual(new Set([...this.granted.keys(), ...this.failed]));
    expect(this.inner.userCount).toBe(0);
  }

  reset(): void {
    this.granted.clear();
    this.failed.clear();
    this.releases.clear();
  }
}

@WebSocketGateway({ namespace: '/chat' })
class ChatGateway {
  @WebSocketServer() nsp!: Namespace;

  @WsPublic()
  @SubscribeMessage('ping')
  ping() {
    return { ok: true };
  }
}

/** An app middleware registered the Nest way (`server.use()` in `afterInit`): a later handshake step. */
@Injectable()
@WebSocketGateway()
class RootGateway implements OnGatewayInit {
  @WebSocketServer() server!: Server;

  afterInit(server: Server): void {
    server.use((socket, next) => {
      if ((socket.handshake.auth as { refuseMe?: unknown }).refuseMe === true) {
        const error = Object.assign(new Error('refused by the app'), { data: { code: 'APP_REFUSED' } });
        next(error);
        return;
      }
      next();
    });
  }
}

const raws = new Set<WebSocket>();

/** A raw Engine.IO v4 websocket client that connects `/` with a token; `answerPings: false` lets it time out. */
function rawConnect(url: string, token: string, answerPings = true): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http:', 'ws:')}/socket.io/?EIO=4&transport=websocket`);
  raws.add(ws);
  return new Promise((resolve, reject) => {
    ws.on('message', (data: WebSocket.RawData) => {
      const text = data.toString();
      if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token })}`);
      else if (text.startsWith('40')) resolve(ws);
      else if (text.startsWith('44')) reject(new Error(`connect_error ${text}`));
      else if (text === '2' && answerPings) ws.send('3');
    });
    ws.on('error', reject);
  });
}

function closeRaws(): void {
  for (const ws of raws) ws.terminate();
  raws.clear();
}

const alice = (extra: Record<string, unknown> = {}, expiresInSeconds?: number) =>
  signToken({ sub: 'alice', tenant: 'acme', ...extra }, expiresInSeconds === undefined ? {} : { expiresInSeconds });
const ALICE = userKey('acme', 'alice');

describe('connection limit: options', () => {
  const base: RealtimeSecurityOptions = { jwt: { secret: TEST_SECRET } };

  it('defaults to 5 per user and 10000 per process', () => {
    const resolved = resolveOptions(base);
    expect(resolved.connections.maxPerUser).toBe(5);
    expect(resolved.connections.maxTotal).toBe(10_000);
  });

  it.each([0, 11, -1, 2.5, Number.NaN, '3', null])('refuses maxPerUser %p at start-up, naming the option', (value) => {
    const options = { ...base, connections: { maxPerUser: value as number } };
    expect(() => resolveOptions(options)).toThrow(InvalidRealtimeSecurityOptionsError);
    expect(() => resolveOptions(options)).toThrow(/connections\.maxPerUser.*1 to 10/);
  });

  it.each([1, 10])('accepts maxPerUser %p', (value) => {
    expect(resolveOptions({ ...base, connections: { maxPerUser: value } }).connections.maxPerUser).toBe(value);
  });

  it('refuses a lease store that is not one', () => {
    expect(() => resolveOptions({ ...base, connections: { store: { acquire: () => true } as unknown as ConnectionLeaseStore } }))
      .toThrow(/connections\.store.*missing release, count/);
  });

  it('a Nest app with a bad ceiling does not start', async () => {
    await expect(startApp({ security: { connections: { maxPerUser: 11 } } })).rejects.toThrow(/connections\.maxPerUser/);
  });
});

describe('connection limit: the ceiling', () => {
  let t: TestApp;
  const store = new RecordingLeaseStore();
  const presenceStore = new InMemoryPresenceStore();
  let lifecycle: ConnectionLifecycle;
  let presence: PresenceService;

  beforeAll(async () => {
    t = await startApp({
      gateways: [ChatGateway],
      security: { connections: { maxPerUser: 3, store }, presence: { store: presenceStore, flapWindowMs: 0 } },
    });
    lifecycle = t.app.get(ConnectionLifecycle);
    presence = t.app.get(PresenceService);
  });
  afterEach(async () => {
    closeAllClients();
    await waitFor('every slot released', () => lifecycle.connectionCount === 0);
    await waitFor('store empty', () => store.inner.userCount === 0);
    store.reset();
  });
  afterAll(async () => { await t.close(); });

  it.each(TRANSPORTS)('50 simultaneous handshakes of one user with a ceiling of 3 give exactly 3 connections (%s)', async (transport) => {
    const token = alice();
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => connect(t.url, '/chat', { transports: [transport], auth: { token } })));
    const ok = outcomes.filter((o) => o.connected);
    const refused = outcomes.filter((o) => !o.connected);
    expect(ok).toHaveLength(3);
    expect(refused).toHaveLength(47);
    for (const r of refused) {
      expect(r.error?.data).toEqual({ code: SecurityErrorCode.CONNECTION_LIMIT });
      expect(r.error?.message).toBe('Connection refused');
    }
    expect(await store.count(ALICE)).toBe(3);
    expect(lifecycle.connectionCount).toBe(3);
    expect(lifecycle.stats).toMatchObject({ leases: 3, sessions: 3, users: 1 });
    await presence.flush();
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'online', connections: 3 });
    // The three that got in work.
    for (const o of ok) expect(await o.socket.emitWithAck('ping', {})).toEqual({ ok: true });
    // Closing them frees exactly three slots: three new handshakes get in, a fourth does not.
    for (const o of ok) o.socket.disconnect();
    await waitFor('slots released', async () => (await store.count(ALICE)) === 0);
    store.expectBalanced();
    const again = await Promise.all(Array.from({ length: 4 }, () => connect(t.url, '/chat', { transports: [transport], auth: { token } })));
    expect(again.filter((o) => o.connected)).toHaveLength(3);
    expect(again.filter((o) => !o.connected).map((o) => o.error?.data?.code)).toEqual([SecurityErrorCode.CONNECTION_LIMIT]);
  });

  it('the ceiling is per user: other users and other tenants are unaffected', async () => {
    const token = alice();
    for (let i = 0; i < 3; i += 1) await connected(t.url, '/chat', { auth: { token } });
    expect((await connect(t.url, '/chat', { auth: { token } })).error?.data?.code).toBe(SecurityErrorCode.CONNECTION_LIMIT);
    await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'bob', tenant: 'acme' }) } });
    // Same user id in another tenant is another user.
    await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'alice', tenant: 'globex' }) } });
    expect(await store.count(userKey('globex', 'alice'))).toBe(1);
  });

  it('namespaces multiplexed over one connection share one slot; it is released when the last closes', async () => {
    const token = alice();
    const manager = new Manager(t.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    const root = manager.socket('/', { auth: { token } });
    const chat = manager.socket('/chat', { auth: { token } });
    await Promise.all([nextEvent(root, 'connect'), nextEvent(chat, 'connect')]);
    expect(await store.count(ALICE)).toBe(1);
    expect(lifecycle.stats).toMatchObject({ leases: 1, sessions: 2 });
    await presence.flush();
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'online', connections: 1 });
    const others = [await connected(t.url, '/chat', { auth: { token } }), await connected(t.url, '/chat', { auth: { token } })];
    expect((await connect(t.url, '/chat', { auth: { token } })).error?.data?.code).toBe(SecurityErrorCode.CONNECTION_LIMIT);
    chat.disconnect();
    await waitFor('the /chat socket closed on the server', () => lifecycle.stats.sessions === 3);
    expect(await store.count(ALICE)).toBe(3);
    root.disconnect();
    await waitFor('the shared slot released', async () => (await store.count(ALICE)) === 2);
    others.forEach((s) => s.disconnect());
  });
});

describe('connection limit: per-process ceiling', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startApp({ gateways: [ChatGateway], security: { connections: { maxTotal: 2 } } }); });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  it('refuses past maxTotal with SERVICE_UNAVAILABLE, and admits again once one closes', async () => {
    const lifecycle = t.app.get(ConnectionLifecycle);
    const first = await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'u1' }) } });
    await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'u2' }) } });
    const third = await connect(t.url, '/chat', { auth: { token: signToken({ sub: 'u3' }) } });
    expect(third.connected).toBe(false);
    expect(third.error?.data).toEqual({ code: SecurityErrorCode.SERVICE_UNAVAILABLE });
    expect(lifecycle.connectionCount).toBe(2);
    first.disconnect();
    await waitFor('slot released', () => lifecycle.connectionCount === 1);
    await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'u3' }) } });
  });
});

describe('connection limit: every close path releases exactly one slot, exactly once', () => {
  let t: TestApp;
  const store = new RecordingLeaseStore();
  const presenceStore = new InMemoryPresenceStore();
  let lifecycle: ConnectionLifecycle;
  let presence: PresenceService;

  const start = async () => {
    t = await startApp({
      gateways: [ChatGateway, RootGateway],
      security: {
        connections: { maxPerUser: 1, store },
        presence: { store: presenceStore, flapWindowMs: 0 },
        transport: { pingIntervalMs: 1000, pingTimeoutMs: 1000 },
      },
    });
    lifecycle = t.app.get(ConnectionLifecycle);
    presence = t.app.get(PresenceService);
  };

  /** After a close: the slot is back exactly once, counts are zero, presence is offline, a new connection works. */
  async function expectReleasedAndReusable(transport: Transport = 'websocket'): Promise<void> {
    await waitFor('the slot is released', async () => lifecycle.connectionCount === 0 && (await store.count(ALICE)) === 0);
    store.expectBalanced();
    expect(lifecycle.stats).toEqual({ leases: 0, sessions: 0, users: 0, tenants: 0, expiryTimers: 0 });
    await presence.flush();
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'offline', connections: 0 });
    const again = await connected(t.url, '/chat', { transports: [transport], auth: { token: alice() } });
    expect(await store.count(ALICE)).toBe(1);
    again.disconnect();
    await waitFor('the new slot is released', async () => (await store.count(ALICE)) === 0);
    store.expectBalanced();
    store.reset();
  }

  /** Holds the only slot and proves it is held (the next handshake is refused). */
  async function holdSlot(transport: Transport = 'websocket'): Promise<ClientSocket> {
    const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: alice() } });
    expect((await connect(t.url, '/chat', { transports: [transport], auth: { token: alice() } })).error?.data?.code)
      .toBe(SecurityErrorCode.CONNECTION_LIMIT);
    return socket;
  }

  function serverSocket(): Socket {
    const [session] = lifecycle.sessionsOf(ALICE);
    if (session === undefined) throw new Error('no server-side session for alice');
    return session.socket;
  }

  beforeAll(start);
  afterEach(async () => {
    closeAllClients();
    closeRaws();
    store.let();
    await waitFor('clean between tests', () => lifecycle.connectionCount === 0 && store.inner.userCount === 0);
    store.reset();
  });
  afterAll(async () => { await t.close(); });

  it.each(TRANSPORTS)('client close (%s)', async (transport) => {
    const socket = await holdSlot(transport);
    socket.disconnect();
    await expectReleasedAndReusable(transport);
  });

  it.each(TRANSPORTS)('server kick: disconnect(true) (%s)', async (transport) => {
    const socket = await holdSlot(transport);
    const gone = nextEvent(socket, 'disconnect');
    serverSocket().disconnect(true);
    expect(await gone).toBe('io server disconnect');
    await expectReleasedAndReusable(transport);
  });

  it('server namespace kick: disconnect(false) of the only namespace', async () => {
    const socket = await holdSlot();
    const gone = nextEvent(socket, 'disconnect');
    serverSocket().disconnect(false);
    await gone;
    await expectReleasedAndReusable();
  });

  it('abrupt TCP destroy of a websocket (transport error)', async () => {
    const ws = await rawConnect(t.url, alice());
    await waitFor('raw socket admitted', () => lifecycle.stats.sessions === 1);
    expect((await connect(t.url, '/chat', { auth: { token: alice() } })).error?.data?.code).toBe(SecurityErrorCode.CONNECTION_LIMIT);
    ws.terminate();
    await expectReleasedAndReusable();
  });

  it('ping timeout: a client that stops answering pings', async () => {
    await rawConnect(t.url, alice(), false);
    await waitFor('raw socket admitted', () => lifecycle.stats.sessions === 1);
    await waitFor('closed by the ping timeout', () => lifecycle.connectionCount === 0, 8000);
    await expectReleasedAndReusable();
  });

  it('ban / moderation terminate', async () => {
    const socket = await holdSlot();
    const exception = nextEvent<{ error: { code: string } }>(socket, 'exception');
    const gone = nextEvent(socket, 'disconnect');
    const [session] = lifecycle.sessionsOf(ALICE);
    lifecycle.terminate(session, SecurityErrorCode.BANNED);
    lifecycle.terminate(session, SecurityErrorCode.BANNED);
    expect((await exception).error.code).toBe(SecurityErrorCode.BANNED);
    await gone;
    await expectReleasedAndReusable();
  });

  it('ModerationService: disconnectUser, then banUser (refused while banned), then unban', async () => {
    const moderation = t.app.get(ModerationService);
    const first = await holdSlot();
    const kicked = nextEvent(first, 'disconnect');
    await moderation.disconnectUser('acme', 'alice');
    await kicked;
    await expectReleasedAndReusable();

    const second = await holdSlot('polling');
    const exceptions: string[] = [];
    second.on('exception', (body: { error: { code: string } }) => exceptions.push(body.error.code));
    try {
      await moderation.banUser('acme', 'alice');
      // Bounded waits (not a bare await on the event), so the unban below always runs.
      await waitFor('the slot is released', async () => lifecycle.connectionCount === 0 && (await store.count(ALICE)) === 0);
      await waitFor('the client is told', () => exceptions.length > 0);
      expect(exceptions).toEqual([SecurityErrorCode.BANNED]);
      store.expectBalanced();
      expect((await connect(t.url, '/chat', { auth: { token: alice() } })).error?.data?.code).toBe(SecurityErrorCode.BANNED);
      expect(lifecycle.connectionCount).toBe(0);
    } finally {
      await moderation.unbanUser('acme', 'alice');
    }
    await expectReleasedAndReusable();
  });

  it('token expiry while connected', async () => {
    const socket = await connected(t.url, '/chat', { auth: { token: alice({}, 2) } });
    const exception = nextEvent<{ error: { code: string } }>(socket, 'exception');
    await nextEvent(socket, 'disconnect');
    expect((await exception).error.code).toBe(SecurityErrorCode.TOKEN_EXPIRED);
    await expectReleasedAndReusable();
  });

  it('a handshake refused by a later step (an app middleware from server.use) holds no slot', async () => {
    const refused = await connect(t.url, '/', { auth: { token: alice(), refuseMe: true } });
    expect(refused.connected).toBe(false);
    expect(refused.error?.data).toEqual({ code: 'APP_REFUSED' });
    expect(lifecycle.connectionCount).toBe(0);
    expect(await store.count(ALICE)).toBe(0);
    await expectReleasedAndReusable();
  });

  it('a client that leaves while its slot is being granted releases it once granted', async () => {
    store.hold();
    const socket = (await import('../support/clients.js')).client(t.url, '/chat', { transports: ['websocket'], auth: { token: alice() } });
    await waitFor('the handshake reaches the store', () => store.pendingAcquires === 1);
    socket.disconnect();
    const server = t.app.get(ChatGateway).nsp.server;
    await waitFor('the engine connection is gone', () => server.engine.clientsCount === 0);
    store.let();
    await waitFor('granted', () => store.granted.size === 1);
    await expectReleasedAndReusable();
    await presence.flush();
    // It never connected, so presence never saw it.
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'offline' });
  });

  it('a lease store that throws refuses with SERVICE_UNAVAILABLE and leaks nothing', async () => {
    // Rejecting, and throwing synchronously (a store that is not even async).
    const rejecting = async (_key: string, leaseId: string): Promise<boolean> => { store.failed.add(leaseId); throw new Error('store down'); };
    const throwing = (_key: string, leaseId: string): never => { store.failed.add(leaseId); throw new Error('store down'); };
    for (const broken of [rejecting, throwing]) {
      store.acquire = broken;
      try {
        const refused = await connect(t.url, '/chat', { auth: { token: alice() } });
        expect(refused.error?.data).toEqual({ code: SecurityErrorCode.SERVICE_UNAVAILABLE });
        expect(lifecycle.connectionCount).toBe(0);
      } finally {
        delete (store as Partial<RecordingLeaseStore>).acquire;
      }
    }
    await expectReleasedAndReusable();
  });

  it('server shutdown releases every slot and leaves nobody online', async () => {
    await holdSlot();
    await rawConnect(t.url, signToken({ sub: 'bob', tenant: 'acme' }));
    await t.close();
    expect(store.inner.userCount).toBe(0);
    store.expectBalanced();
    expect(presenceStore.stats.onlineUsers).toBe(0);
    expect(await presenceStore.get('acme', 'alice')).toMatchObject({ status: 'offline', connections: 0 });
    expect(await presenceStore.get('acme', 'bob')).toMatchObject({ status: 'offline', connections: 0 });
    store.reset();
    closeAllClients();
    closeRaws();
    await start();
    await expectReleasedAndReusable();
  });
});
