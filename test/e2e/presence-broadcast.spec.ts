import type { Socket as ClientSocket } from 'socket.io-client';
import {
  PresenceService,
  userKey,
  type PresenceAudience,
  type PresenceChange,
} from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const ChatGateway = pingGateway('/chat');
const RootGateway = pingGateway();

interface Update {
  userId: string;
  status: 'online' | 'offline';
  lastSeen?: number;
}

const token = (sub: string, tenant: string, perms: string[]) => signToken({ sub, tenant, perms });

/** A connected socket that records every `presence_update` it receives. */
async function watcher(url: string, nsp: string, sub: string, tenant: string, perms: string[]) {
  const socket = await connected(url, nsp, { transports: ['websocket'], auth: { token: token(sub, tenant, perms) } });
  const updates: Update[] = [];
  socket.on('presence_update', (u: Update) => updates.push(u));
  return { socket, updates, about: (userId: string) => updates.filter((u) => u.userId === userId) };
}

/** The next `presence_update` about `userId`. */
function nextUpdate(socket: ClientSocket, userId: string): Promise<Update> {
  return new Promise((resolve) => {
    const listener = (u: Update) => {
      if (u.userId !== userId) return;
      socket.off('presence_update', listener);
      resolve(u);
    };
    socket.on('presence_update', listener);
  });
}

/** After this round trip, anything the server emitted to `socket` before it has arrived. */
async function barrier(socket: ClientSocket): Promise<void> {
  expect(await socket.emitWithAck('ping', {})).toEqual({ ok: true });
}

describe('presence broadcast: the audience', () => {
  let t: TestApp;
  let presence: PresenceService;

  async function start(audience?: PresenceAudience) {
    t = await startApp({
      gateways: [ChatGateway, RootGateway],
      security: { presence: { flapWindowMs: 0, broadcast: { namespaces: ['/chat'], ...(audience ? { audience } : {}) } } },
    });
    presence = t.app.get(PresenceService);
  }

  afterEach(async () => {
    closeAllClients();
    await t.close();
  });

  async function observers() {
    return {
      reader: await watcher(t.url, '/chat', 'reader', 'acme', ['presence:read']),
      wildcard: await watcher(t.url, '/chat', 'admin', 'acme', ['*']),
      noPermission: await watcher(t.url, '/chat', 'noperm', 'acme', ['channel:*']),
      otherTenant: await watcher(t.url, '/chat', 'reader', 'globex', ['presence:read', '*']),
      otherNamespace: await watcher(t.url, '/', 'rootreader', 'acme', ['presence:read']),
    };
  }

  async function daveComesAndGoes(watch: ClientSocket): Promise<[Update, Update]> {
    const online = nextUpdate(watch, 'dave');
    const dave = await connected(t.url, '/chat', { auth: { token: token('dave', 'acme', []) } });
    const first = await online;
    const offline = nextUpdate(watch, 'dave');
    dave.disconnect();
    return [first, await offline];
  }

  it('default: same tenant, holding presence:read, on the configured namespaces; nobody else', async () => {
    await start();
    const o = await observers();
    const [online, offline] = await daveComesAndGoes(o.reader.socket);
    expect(online).toEqual({ userId: 'dave', status: 'online' });
    const record = await presence.get('acme', 'dave');
    expect(offline).toEqual({ userId: 'dave', status: 'offline', lastSeen: record.lastSeen });
    expect(typeof offline.lastSeen).toBe('number');
    for (const w of Object.values(o)) await barrier(w.socket);
    expect(o.reader.about('dave')).toEqual([online, offline]);
    expect(o.wildcard.about('dave')).toEqual([online, offline]);
    expect(o.noPermission.updates).toEqual([]);
    expect(o.otherNamespace.updates).toEqual([]);
    // The other tenant hears only about its own users (here: its reader itself).
    expect(o.otherTenant.updates.filter((u) => u.userId !== 'reader')).toEqual([]);
    // A same-id user of another tenant coming online is not announced to acme.
    const acmeBefore = o.reader.updates.length;
    const globexTwin = await connected(t.url, '/chat', { auth: { token: token('dave', 'globex', []) } });
    await presence.flush();
    await barrier(o.reader.socket);
    expect(o.reader.updates.length).toBe(acmeBefore);
    globexTwin.disconnect();
  });

  it('a custom audience narrows or widens within the tenant, but never reaches another tenant', async () => {
    const seen: string[] = [];
    await start((viewer, subject) => {
      seen.push(`${viewer.tenantId}:${subject.tenantId}`);
      return true;
    });
    const o = await observers();
    const [online, offline] = await daveComesAndGoes(o.reader.socket);
    for (const w of Object.values(o)) await barrier(w.socket);
    expect(o.noPermission.about('dave')).toEqual([online, offline]);
    expect(o.otherTenant.about('dave')).toEqual([]);
    expect(o.otherNamespace.updates).toEqual([]);
    // The predicate was only ever asked about viewers of the subject's own tenant.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((pair) => pair.split(':')[0] === pair.split(':')[1])).toBe(true);
  });

  it('an audience predicate that throws denies that viewer and breaks nothing', async () => {
    await start((viewer) => {
      if (viewer.userId === 'noperm') throw new Error('boom');
      return viewer.permissions.includes('presence:read');
    });
    const o = await observers();
    const [online] = await daveComesAndGoes(o.reader.socket);
    await barrier(o.noPermission.socket);
    expect(online).toEqual({ userId: 'dave', status: 'online' });
    expect(o.noPermission.updates).toEqual([]);
  });

  it('the permission is checked live: a viewer that loses presence:read stops receiving', async () => {
    await start();
    const reader = await watcher(t.url, '/chat', 'reader', 'acme', ['presence:read']);
    const control = await watcher(t.url, '/chat', 'control', 'acme', ['presence:read']);
    await daveComesAndGoes(control.socket);
    await barrier(reader.socket);
    expect(reader.about('dave')).toHaveLength(2);
    const lifecycle = t.app.get(ConnectionLifecycle);
    const [session] = lifecycle.sessionsOf(userKey('acme', 'reader'));
    lifecycle.refresh(session, session.tokenPrincipal, ['channel:read']);
    await daveComesAndGoes(control.socket);
    await barrier(reader.socket);
    expect(reader.about('dave')).toHaveLength(2);
  });

  it('is off unless namespaces are configured', async () => {
    t = await startApp({ gateways: [ChatGateway], security: { presence: { flapWindowMs: 0 } } });
    presence = t.app.get(PresenceService);
    const reader = await watcher(t.url, '/chat', 'reader', 'acme', ['presence:read']);
    const dave = await connected(t.url, '/chat', { auth: { token: token('dave', 'acme', []) } });
    await presence.flush();
    dave.disconnect();
    await waitFor('dave offline', async () => !(await presence.isOnline('acme', 'dave')));
    await barrier(reader.socket);
    expect(reader.updates).toEqual([]);
  });
});

describe('presence broadcast: flap damping', () => {
  const WINDOW = 600;
  let t: TestApp;
  let presence: PresenceService;
  const changes: PresenceChange[] = [];

  beforeAll(async () => {
    t = await startApp({
      gateways: [ChatGateway],
      security: { presence: { flapWindowMs: WINDOW, broadcast: { namespaces: ['/chat'] } } },
    });
    presence = t.app.get(PresenceService);
    presence.changes$.subscribe((c) => changes.push(c));
  });
  afterEach(async () => {
    closeAllClients();
    await waitFor('settled', async () => (await presence.countOnline('acme')) === 0 && presence.stats.dampedOffline === 0, 5000);
    changes.length = 0;
  });
  afterAll(async () => { await t.close(); });

  const daveToken = () => token('dave', 'acme', []);

  it('a reconnect within the window announces neither offline nor online; lastSeen stays consistent', async () => {
    const observer = await watcher(t.url, '/chat', 'observer', 'acme', ['presence:read']);
    const online = nextUpdate(observer.socket, 'dave');
    const first = await connected(t.url, '/chat', { auth: { token: daveToken() } });
    expect(await online).toEqual({ userId: 'dave', status: 'online' });

    // Flap: the server sees the close (offline written, its announcement held), then a reconnect.
    first.disconnect();
    await waitFor('offline held back', () => presence.stats.dampedOffline === 1);
    const flapClose = (await presence.get('acme', 'dave')).lastSeen;
    expect(await presence.isOnline('acme', 'dave')).toBe(false);
    const second = await connected(t.url, '/chat', { auth: { token: daveToken() } });
    await presence.flush();
    expect(presence.stats.dampedOffline).toBe(0);
    // Queries tell the truth: online again, and the flap's close is the last time they were seen.
    expect(await presence.get('acme', 'dave')).toMatchObject({ status: 'online', connections: 1, lastSeen: flapClose });
    await barrier(observer.socket);
    expect(observer.about('dave')).toEqual([{ userId: 'dave', status: 'online' }]);

    // A real departure: the next update is this offline, held for the window, with the store's lastSeen.
    const offline = nextUpdate(observer.socket, 'dave');
    const closedAt = Date.now();
    second.disconnect();
    const update = await offline;
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(WINDOW - 50);
    const record = await presence.get('acme', 'dave');
    expect(record).toMatchObject({ status: 'offline', connections: 0 });
    expect(update).toEqual({ userId: 'dave', status: 'offline', lastSeen: record.lastSeen });
    expect(record.lastSeen).toBeGreaterThan(flapClose ?? Infinity);
    expect(observer.about('dave')).toEqual([{ userId: 'dave', status: 'online' }, update]);
    expect(changes.filter((c) => c.userId === 'dave').map((c) => [c.type, c.lastSeen])).toEqual([['online', null], ['offline', record.lastSeen]]);
  });

  it('a reconnect after the window announces offline, then online', async () => {
    const observer = await watcher(t.url, '/chat', 'observer', 'acme', ['presence:read']);
    const online = nextUpdate(observer.socket, 'dave');
    const first = await connected(t.url, '/chat', { auth: { token: daveToken() } });
    await online;
    const offline = nextUpdate(observer.socket, 'dave');
    first.disconnect();
    expect((await offline).status).toBe('offline');
    const back = nextUpdate(observer.socket, 'dave');
    await connected(t.url, '/chat', { auth: { token: daveToken() } });
    expect(await back).toEqual({ userId: 'dave', status: 'online' });
    expect(observer.about('dave').map((u) => u.status)).toEqual(['online', 'offline', 'online']);
  });

  it('several rapid flaps announce nothing at all', async () => {
    const observer = await watcher(t.url, '/chat', 'observer', 'acme', ['presence:read']);
    const online = nextUpdate(observer.socket, 'dave');
    let current = await connected(t.url, '/chat', { auth: { token: daveToken() } });
    await online;
    for (let i = 0; i < 5; i += 1) {
      // Overlapping devices (a hand-over), then a full flap.
      const other = await connected(t.url, '/chat', { auth: { token: daveToken() } });
      current.disconnect();
      await waitFor('the old one closed', async () => (await presence.get('acme', 'dave')).connections === 1);
      other.disconnect();
      await waitFor('offline held', () => presence.stats.dampedOffline === 1);
      current = await connected(t.url, '/chat', { auth: { token: daveToken() } });
      await presence.flush();
    }
    await barrier(observer.socket);
    expect(observer.about('dave')).toEqual([{ userId: 'dave', status: 'online' }]);
    expect(presence.stats.dampedOffline).toBe(0);
    const gone = nextUpdate(observer.socket, 'dave');
    current.disconnect();
    expect((await gone).status).toBe('offline');
  });
});
