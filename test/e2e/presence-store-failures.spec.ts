import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  InMemoryPresenceStore,
  PresenceService,
  type PresenceChange,
  type PresenceConnection,
  type PresenceTransition,
} from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const ChatGateway = pingGateway('/chat');

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens are slow and closes fast: an unserialised writer would apply a close before its open. */
class SlowOpenStore extends InMemoryPresenceStore {
  override async connectionOpened(connection: PresenceConnection, at: number): Promise<PresenceTransition> {
    await delay(25);
    return super.connectionOpened(connection, at);
  }
}

/** Fails on demand, synchronously or asynchronously. */
class FlakyStore extends InMemoryPresenceStore {
  failOpen: 'no' | 'reject' | 'throw' = 'no';
  failClose: 'no' | 'reject' | 'once' = 'no';
  calls = 0;

  override connectionOpened(connection: PresenceConnection, at: number): Promise<PresenceTransition> {
    if (this.failOpen === 'throw') throw new Error('presence backend exploded');
    if (this.failOpen === 'reject') return Promise.reject(new Error('presence backend unreachable'));
    return super.connectionOpened(connection, at);
  }

  override connectionClosed(connection: PresenceConnection, at: number): Promise<PresenceTransition> {
    this.calls += 1;
    if (this.failClose === 'reject') return Promise.reject(new Error('presence backend unreachable'));
    if (this.failClose === 'once') {
      this.failClose = 'no';
      return Promise.reject(new Error('presence backend blinked'));
    }
    return super.connectionClosed(connection, at);
  }
}

const aliceToken = () => signToken({ sub: 'alice', tenant: 'acme' });

describe('presence: writes are serialised per user', () => {
  let t: TestApp;
  let presence: PresenceService;
  const changes: PresenceChange[] = [];

  beforeAll(async () => {
    t = await startApp({ gateways: [ChatGateway], security: { presence: { store: new SlowOpenStore(), flapWindowMs: 0 }, connections: { maxPerUser: 10 } } });
    presence = t.app.get(PresenceService);
    presence.changes$.subscribe((c) => changes.push(c));
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  it('rapid open/close with a slow store never leaves a wrong state', async () => {
    const lifecycle = t.app.get(ConnectionLifecycle);
    for (let i = 0; i < 8; i += 1) {
      const socket = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: aliceToken() } });
      socket.disconnect();
    }
    // Several devices coming and going at once.
    const burst = await Promise.all(Array.from({ length: 6 }, () => connected(t.url, '/chat', { transports: ['websocket'], auth: { token: aliceToken() } })));
    burst.forEach((s) => s.disconnect());
    await waitFor('every connection closed on the server', () => lifecycle.connectionCount === 0);
    await presence.flush();
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'offline', connections: 0 });
    expect(presence.stats).toEqual({ pendingWrites: 0, dampedOffline: 0 });
    const sequence = changes.filter((c) => c.userId === 'alice').map((c) => c.type);
    expect(sequence.length).toBeGreaterThanOrEqual(2);
    sequence.forEach((type, i) => expect(type).toBe(i % 2 === 0 ? 'online' : 'offline'));
  });
});

describe('presence: a failing store is logged and never crashes', () => {
  let t: TestApp;
  let presence: PresenceService;
  const store = new FlakyStore();
  let errors: jest.SpiedFunction<Logger['error']>;

  beforeAll(() => {
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  // An app per test: a failure site logs at most one line per 10 s, so each test needs its own.
  beforeEach(async () => {
    t = await startApp({ gateways: [ChatGateway], security: { presence: { store, flapWindowMs: 0 } } });
    presence = t.app.get(PresenceService);
  });
  afterEach(async () => {
    closeAllClients();
    await t.close();
    store.failOpen = 'no';
    store.failClose = 'no';
    errors.mockClear();
  });
  afterAll(() => {
    errors.mockRestore();
  });

  const logged = () => errors.mock.calls.map((call) => String(call[0]));

  it.each(['reject', 'throw'] as const)('a store that fails on open (%s): the socket works, the error is logged without secrets, later writes go on', async (mode) => {
    store.failOpen = mode;
    const token = aliceToken();
    const socket = await connected(t.url, '/chat', { auth: { token } });
    expect(await socket.emitWithAck('ping', {})).toEqual({ ok: true });
    await presence.flush();
    await waitFor('the failure is logged', () => logged().some((line) => line.includes('presence store failed on connectionOpened')));
    for (const line of logged()) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(socket.id ?? '\u0000');
    }
    // The store comes back: the next connection is recorded, the failed one is simply missing.
    store.failOpen = 'no';
    const second = await connected(t.url, '/chat', { auth: { token: aliceToken() } });
    await presence.flush();
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'online', connections: 1 });
    socket.disconnect();
    second.disconnect();
    await waitFor('offline', async () => !(await presence.isOnline('acme', 'alice')));
  });

  it('a write that fails once is retried: no ghost stays online, nothing is logged', async () => {
    const socket = await connected(t.url, '/chat', { auth: { token: aliceToken() } });
    await presence.flush();
    store.failClose = 'once';
    store.calls = 0;
    socket.disconnect();
    await waitFor('offline after the retry', async () => !(await presence.isOnline('acme', 'alice')));
    expect(store.calls).toBe(2);
    expect(logged()).toEqual([]);
  });

  it('a store that keeps failing on close is logged; the process and other users carry on', async () => {
    const socket = await connected(t.url, '/chat', { auth: { token: aliceToken() } });
    await presence.flush();
    store.failClose = 'reject';
    socket.disconnect();
    await waitFor('the failure is logged', () => logged().some((line) => line.includes('presence store failed on connectionClosed')));
    store.failClose = 'no';
    const bob = await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'bob', tenant: 'acme' }) } });
    expect(await bob.emitWithAck('ping', {})).toEqual({ ok: true });
    await presence.flush();
    expect(await presence.isOnline('acme', 'bob')).toBe(true);
    expect(presence.stats.pendingWrites).toBe(0);
  });
});
