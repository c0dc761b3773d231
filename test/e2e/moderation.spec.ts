import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import {
  InMemoryModerationStore,
  InProcessModerationBus,
  ModerationBus,
  ModerationService,
  ModerationStore,
  RealtimeSecurityModule,
  SecureIoAdapter,
  SecurityEventsService,
  TenantRooms,
  userKey,
  WsAuthorize,
  WsPublic,
  type SecurityEvent,
} from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { client, closeAllClients, connect, connected, nextEvent, TRANSPORTS, type Transport } from '../support/clients.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

@WebSocketGateway({ namespace: '/chat' })
class ChatGateway {
  @WebSocketServer()
  server!: Namespace;

  constructor(private readonly rooms: TenantRooms) {}

  @WsAuthorize('channel:read', { resource: 'channelId' })
  @SubscribeMessage('channel:join')
  async join(@ConnectedSocket() socket: Socket, @MessageBody() dto: { channelId: string }) {
    await this.rooms.join(socket, 'channel', dto.channelId);
    return { ok: true };
  }

  @WsPublic()
  @SubscribeMessage('ping')
  ping() {
    return { pong: true };
  }
}

@WsAuthorize('moderation:read')
@WebSocketGateway({ namespace: '/moderation' })
class ModerationGateway {
  @SubscribeMessage('stats')
  stats() {
    return { ok: true };
  }
}

/** A namespace whose app middleware (run after the ban check) waits on a gate: the ban race. */
const slowGate = { open: Promise.resolve(), release: () => {}, reached: 0 };

@WebSocketGateway({ namespace: '/slow' })
class SlowGateway implements OnGatewayInit {
  afterInit(nsp: Namespace): void {
    nsp.use((_socket, next) => {
      slowGate.reached += 1;
      void slowGate.open.then(() => next());
    });
  }

  @WsPublic()
  @SubscribeMessage('ping')
  ping() {
    return { pong: true };
  }
}

const GATEWAYS = [ChatGateway, ModerationGateway, SlowGateway];
const BANNED = { error: { code: 'BANNED', message: 'Access revoked' } };

describe('moderation (THREATS 5)', () => {
  let t: TestApp;
  let moderation: ModerationService;
  let events: SecurityEvent[];

  beforeAll(async () => {
    t = await startApp({ gateways: GATEWAYS });
    moderation = t.app.get(ModerationService);
    t.app.get(SecurityEventsService).events$.subscribe((event) => events.push(event));
  });
  beforeEach(() => { events = []; });
  afterEach(async () => {
    closeAllClients();
    await moderation.unbanUser('acme', 'eve');
  });
  afterAll(async () => { await t.close(); });

  const token = (sub: string, perms: string[] = ['channel:*', 'moderation:read'], tenant = 'acme') => signToken({ sub, tenant, perms });
  const open = (sub: string, nsp: string, transport: Transport) => connected(t.url, nsp, { transports: [transport], auth: { token: token(sub) } });
  const closedBy = (socket: ClientSocket) => {
    const exception = nextEvent(socket, 'exception');
    const disconnect = nextEvent<string>(socket, 'disconnect');
    return Promise.all([exception, disconnect]);
  };

  it('a ban closes every socket of the user, on every namespace and transport, before banUser resolves', async () => {
    const sockets = [
      await open('eve', '/chat', 'polling'),
      await open('eve', '/chat', 'websocket'),
      await open('eve', '/moderation', 'websocket'),
      await open('eve', '/', 'polling'),
    ];
    const bystander = await open('bob', '/chat', 'websocket');
    const closings = sockets.map(closedBy);

    await moderation.banUser('acme', 'eve', { reason: 'spam' });
    // Enforced synchronously on this node: no open session and no connected server socket is left.
    const lifecycle = t.app.get(ConnectionLifecycle);
    expect(lifecycle.sessionsOf(userKey('acme', 'eve')).length).toBe(0);
    for (const [exception, reason] of await Promise.all(closings)) {
      expect(exception).toEqual(BANNED);
      expect(reason).toBe('io server disconnect');
    }
    expect(await bystander.emitWithAck('ping')).toEqual({ pong: true });
    const banned = events.filter((e) => e.kind === 'banned');
    expect(banned).toHaveLength(4);
    expect(new Set(banned.map((e) => e.namespace))).toEqual(new Set(['/chat', '/moderation', '/']));
    expect(banned.every((e) => e.userId === 'eve' && e.tenantId === 'acme' && e.code === 'BANNED')).toBe(true);
    expect(await moderation.getBan('acme', 'eve')).toEqual({ until: null, reason: 'spam' });
  });

  it.each(TRANSPORTS)('new handshakes of a banned user get BANNED over %s until unbanned', async (transport) => {
    await moderation.banUser('acme', 'eve');
    const refused = await connect(t.url, '/chat', { transports: [transport], auth: { token: token('eve') } });
    expect(refused.connected).toBe(false);
    expect(refused.error?.data?.code).toBe('BANNED');
    // Same user id in another tenant is another user.
    expect((await connect(t.url, '/chat', { transports: [transport], auth: { token: token('eve', [], 'globex') } })).connected).toBe(true);
    await moderation.unbanUser('acme', 'eve');
    expect((await connect(t.url, '/chat', { transports: [transport], auth: { token: token('eve') } })).connected).toBe(true);
  });

  it('a ban with an end lapses by itself', async () => {
    await moderation.banUser('acme', 'eve', { until: Date.now() + 300 });
    expect((await connect(t.url, '/chat', { auth: { token: token('eve') } })).error?.data?.code).toBe('BANNED');
    await waitFor('the ban to lapse', async () => {
      const attempt = await connect(t.url, '/chat', { auth: { token: token('eve') } });
      attempt.socket.disconnect();
      return attempt.connected;
    }, 5000, 100);
  });

  it('a handshake that passed the ban check just before the ban is closed as it opens', async () => {
    let release!: () => void;
    slowGate.open = new Promise<void>((resolve) => { release = resolve; });
    slowGate.reached = 0;
    // Listeners first: the refusal may arrive in the same read as the CONNECT answer.
    const socket = client(t.url, '/slow', { transports: ['websocket'], auth: { token: token('eve') } });
    const exception = nextEvent(socket, 'exception');
    const outcome = new Promise<string>((resolve) => {
      socket.once('disconnect', () => resolve('disconnected'));
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve(`refused ${error.data?.code ?? ''}`));
    });
    await waitFor('the handshake to reach the app middleware', () => slowGate.reached === 1);
    await moderation.banUser('acme', 'eve');
    release();
    const result = await Promise.race([outcome, new Promise<string>((resolve) => setTimeout(() => resolve('still connected'), 5000).unref())]);
    if (result === 'disconnected') expect(await exception).toEqual(BANNED);
    else expect(result).toBe('refused BANNED');
    expect(t.app.get(ConnectionLifecycle).sessionsOf(userKey('acme', 'eve')).length).toBe(0);
  });

  it('disconnectUser closes every socket with UNAUTHORIZED; the user may reconnect', async () => {
    const a = await open('eve', '/chat', 'polling');
    const b = await open('eve', '/moderation', 'websocket');
    const closings = [closedBy(a), closedBy(b)];
    await moderation.disconnectUser('acme', 'eve');
    for (const [exception] of await Promise.all(closings)) expect(exception).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Authentication required' } });
    expect(events.filter((e) => e.kind === 'disconnected_by_moderation').map((e) => e.namespace).sort()).toEqual(['/chat', '/moderation']);
    expect(await (await open('eve', '/chat', 'websocket')).emitWithAck('ping')).toEqual({ pong: true });
  });

  it('never puts a token in a security event', async () => {
    const eveToken = token('eve');
    await connected(t.url, '/chat', { auth: { token: eveToken } });
    await moderation.banUser('acme', 'eve');
    await connect(t.url, '/chat', { auth: { token: eveToken } });
    expect(events.length).toBeGreaterThan(0);
    expect(JSON.stringify(events)).not.toContain(eveToken.split('.')[2]);
  });

  it('effectivePrincipal applies bans and permission overrides to principals from elsewhere', async () => {
    const principal = { userId: 'eve', tenantId: 'acme', permissions: ['moderation:write'], expiresAt: Date.now() + 60_000 };
    expect(await moderation.effectivePrincipal(principal)).toEqual(principal);
    await moderation.setPermissions('acme', 'eve', ['channel:read']);
    expect((await moderation.effectivePrincipal(principal))?.permissions).toEqual(['channel:read']);
    await moderation.banUser('acme', 'eve');
    expect(await moderation.effectivePrincipal(principal)).toBeNull();
    await moderation.setPermissions('acme', 'eve', null);
  });

  it('refuses malformed moderation calls with an explanation', async () => {
    await expect(moderation.banUser('acme', 'eve', { until: Date.now() - 1 })).rejects.toThrow(/until must be .* in the future/);
    await expect(moderation.banUser('acme', '')).rejects.toThrow(/userId must be a non-empty string/);
    await expect(moderation.banUser('acme', 'eve', { reason: 'x'.repeat(501) })).rejects.toThrow(/reason/);
    await expect(moderation.setPermissions('acme', 'eve', 'channel:*' as unknown as string[])).rejects.toThrow(/permissions must be null or an array/);
    await expect(moderation.disconnectUser(undefined as unknown as string, 'eve')).rejects.toThrow(/tenantId/);
    expect(await moderation.getBan('acme', 'eve')).toBeNull();
  });
});

describe('moderation across nodes sharing a bus and a store', () => {
  const bus = new InProcessModerationBus();
  const store = new InMemoryModerationStore();
  let nodes: { app: INestApplication; url: string }[];

  /** One "node": its own app, lifecycle and ModerationService; the same gateway classes. */
  async function startNode(): Promise<{ app: INestApplication; url: string }> {
    const moduleRef = await Test.createTestingModule({
      imports: [RealtimeSecurityModule.forRoot({ jwt: { secret: TEST_SECRET }, logSecurityEvents: false, logInventory: false })],
      providers: GATEWAYS,
    })
      .overrideProvider(ModerationBus).useValue(bus)
      .overrideProvider(ModerationStore).useValue(store)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
  }

  beforeAll(async () => {
    // Started together: gateway classes shared by two apps must route each socket to its own app.
    nodes = await Promise.all([startNode(), startNode()]);
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await Promise.all(nodes.map((n) => n.app.close())); });

  const [A, B] = [0, 1];
  const open = (node: number, sub: string, perms: string[] = ['channel:*']) =>
    connected(nodes[node]!.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub, tenant: 'acme', perms }) } });

  it('a ban on one node closes the sockets on the other and refuses its handshakes', async () => {
    const onB = await open(B, 'zed');
    const onA = await open(A, 'zed');
    const closings = [onA, onB].map((s) => Promise.all([nextEvent(s, 'exception'), nextEvent(s, 'disconnect')]));
    await nodes[A]!.app.get(ModerationService).banUser('acme', 'zed');
    for (const [exception] of await Promise.all(closings)) expect(exception).toEqual(BANNED);
    expect((await connect(nodes[B]!.url, '/chat', { auth: { token: signToken({ sub: 'zed', tenant: 'acme' }) } })).error?.data?.code).toBe('BANNED');
    await nodes[B]!.app.get(ModerationService).unbanUser('acme', 'zed');
    expect(await (await open(A, 'zed')).emitWithAck('ping')).toEqual({ pong: true });
  });

  it('a permission change on one node evicts and denies on the other', async () => {
    const onB = await open(B, 'yan');
    expect(await onB.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    await nodes[A]!.app.get(ModerationService).setPermissions('acme', 'yan', ['presence:read']);
    const server = nodes[B]!.app.get(ChatGateway).server;
    await waitFor('node B to evict the socket', () => [...(server.sockets.get(onB.id as string)?.rooms ?? [])].every((r) => !r.startsWith('rt-room:')));
    expect(await onB.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ error: { code: 'FORBIDDEN', message: 'Forbidden' } });
    await nodes[A]!.app.get(ModerationService).setPermissions('acme', 'yan', null);
    await waitFor('node B to restore the permissions', async () => JSON.stringify(await onB.emitWithAck('channel:join', { channelId: 'general' })) === '{"ok":true}');
  });

  it('a user demoted on one node connects anew on the other with the override, not the token\'s permissions', async () => {
    await nodes[A]!.app.get(ModerationService).setPermissions('acme', 'uma', ['presence:read']);
    try {
      // The token still says channel:*: the handshake applies the stored override.
      const onB = await open(B, 'uma');
      expect(await onB.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ error: { code: 'FORBIDDEN', message: 'Forbidden' } });
    } finally {
      await nodes[A]!.app.get(ModerationService).setPermissions('acme', 'uma', null);
    }
    const again = await open(B, 'uma');
    expect(await again.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
  });

  it('each node authorizes its own sockets through the shared gateway class', async () => {
    const onA = await open(A, 'amy', []);
    const onB = await open(B, 'ben');
    expect(await onA.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ error: { code: 'FORBIDDEN', message: 'Forbidden' } });
    expect(await onB.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
  });
});
