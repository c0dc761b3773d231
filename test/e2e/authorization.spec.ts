import { Catch, HttpException, Injectable, UseFilters, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, WsException } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { WebSocket } from 'ws';
import {
  ModerationService,
  SecurityErrorCode,
  SecurityEventsService,
  TenantRooms,
  WsAuthorize,
  WsPrincipal,
  WsPublic,
  WsSecurityException,
  PermissionResolver,
  type PermissionQuery,
  type Principal,
  type SecurityEvent,
} from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, nextEvent, TRANSPORTS, type Transport } from '../support/clients.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

interface ChannelDto {
  channelId: string;
  text?: string;
}

interface ChatMessage {
  channelId: string;
  userId: string;
  text: string;
}

class TeapotError extends Error {}

/** A gateway's own filter, for one method: must keep precedence over the library's. */
@Catch(TeapotError)
class TeapotFilter implements ExceptionFilter {
  catch(_error: TeapotError, host: ArgumentsHost): void {
    const ack: unknown = host.getArgByIndex(2);
    if (typeof ack === 'function') ack({ teapot: true });
  }
}

/** Stands in for @nestjs/throttler's exception (recognised by name). */
class ThrottlerException extends HttpException {
  constructor() {
    super('ThrottlerException: Too Many Requests', 429);
  }
}

const runs = { undecorated: 0, crash: 0 };

@Injectable()
@WebSocketGateway({ namespace: '/chat' })
class ChatGateway {
  @WebSocketServer()
  server!: Namespace;

  constructor(private readonly rooms: TenantRooms) {}

  @WsAuthorize('channel:read', { resource: 'channelId' })
  @SubscribeMessage('channel:join')
  async join(@ConnectedSocket() socket: Socket, @MessageBody() dto: ChannelDto) {
    await this.rooms.join(socket, 'channel', dto.channelId);
    return { ok: true };
  }

  @WsAuthorize('channel:write', { resource: 'channelId' })
  @SubscribeMessage('message:send')
  send(@ConnectedSocket() socket: Socket, @WsPrincipal() principal: Principal, @MessageBody() dto: ChannelDto) {
    if (!this.rooms.has(socket, 'channel', dto.channelId)) throw new WsSecurityException(SecurityErrorCode.FORBIDDEN);
    const message: ChatMessage = { channelId: dto.channelId, userId: principal.userId, text: dto.text ?? '' };
    this.server.to(this.rooms.roomFor(principal, 'channel', dto.channelId)).emit('message', message);
    return { ok: true };
  }

  /** No decorator: denied by default. */
  @SubscribeMessage('debug:dump')
  dump() {
    runs.undecorated += 1;
    return { secrets: true };
  }

  @WsPublic()
  @SubscribeMessage('ping')
  ping() {
    return { pong: true };
  }

  @WsAuthorize('channel:read')
  @SubscribeMessage('crash')
  crash() {
    runs.crash += 1;
    throw new Error('database password is hunter2');
  }

  @WsPublic()
  @SubscribeMessage('ws-exception')
  wsException(@MessageBody() body: unknown) {
    throw new WsException(`you sent ${JSON.stringify(body)}`);
  }

  @WsPublic()
  @SubscribeMessage('not-found')
  notFound() {
    throw new HttpException('no such thing', 404);
  }

  @WsPublic()
  @SubscribeMessage('throttled')
  throttled() {
    throw new ThrottlerException();
  }

  @WsPublic()
  @UseFilters(TeapotFilter)
  @SubscribeMessage('teapot')
  teapot() {
    throw new TeapotError('short and stout');
  }

  @WsPublic()
  @UseFilters(TeapotFilter)
  @SubscribeMessage('teapot-other')
  teapotOther() {
    throw new Error('not a teapot');
  }
}

/** Class-level rules: every handler needs moderation:read unless it says otherwise. */
@WsAuthorize('moderation:read')
@WebSocketGateway({ namespace: '/moderation' })
class ModerationGateway {
  @SubscribeMessage('stats')
  stats() {
    return { ok: true };
  }

  @WsPublic()
  @SubscribeMessage('hello')
  hello() {
    return { hello: true };
  }

  @WsAuthorize('moderation:write')
  @SubscribeMessage('kick')
  kick() {
    return { kicked: true };
  }
}

/** A raw Engine.IO v4 websocket client connected to `/chat`, for packets `socket.io-client` refuses to send. */
class RawChat {
  readonly frames: string[] = [];
  readonly closed: Promise<void>;
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const frame = data.toString();
      if (frame === '2') ws.send('3');
      this.frames.push(frame);
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  static async open(port: number, token: string): Promise<RawChat> {
    const raw = new RawChat(new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`));
    await raw.frame((f) => f.startsWith('0{'));
    raw.send(`40/chat,${JSON.stringify({ token })}`);
    await raw.frame((f) => f.startsWith('40/chat,'));
    return raw;
  }

  send(frame: string): void {
    this.ws.send(frame);
  }

  /** The first frame (received or to come) matching `predicate`; rejects if the connection closes first. */
  frame(predicate: (frame: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.frames.find(predicate);
        if (found === undefined) return false;
        this.ws.off('message', onMessage);
        resolve(found);
        return true;
      };
      const onMessage = () => void setImmediate(check);
      if (check()) return;
      this.ws.on('message', onMessage);
      void this.closed.then(() => reject(new Error('connection closed')));
    });
  }

  close(): void {
    this.ws.close();
  }
}

const ACK_TIMEOUT_MS = 3000;
const FORBIDDEN = { error: { code: 'FORBIDDEN', message: 'Forbidden' } };

describe('authorization (THREATS 14-19)', () => {
  let t: TestApp;
  let events: SecurityEvent[];
  let gateway: ChatGateway;

  beforeAll(async () => {
    t = await startApp({ gateways: [ChatGateway, ModerationGateway] });
    gateway = t.app.get(ChatGateway);
    t.app.get(SecurityEventsService).events$.subscribe((event) => events.push(event));
  });
  beforeEach(() => {
    events = [];
    runs.undecorated = 0;
    runs.crash = 0;
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  const user = (sub: string, perms: string[], transport: Transport, tenant = 'acme', nsp = '/chat') =>
    connected(t.url, nsp, { transports: [transport], auth: { token: signToken({ sub, tenant, perms }) } });
  /** An ack with a deadline: a refused message must resolve its ack, never leave it hanging. */
  const ask = (socket: ClientSocket, event: string, ...args: unknown[]) => socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args) as Promise<unknown>;
  const serverSocket = (client: ClientSocket): Socket => {
    const socket = gateway.server.sockets.get(client.id as string);
    if (socket === undefined) throw new Error('no server socket');
    return socket;
  };
  /** Rooms other than the socket's own id (and the private room a test put it in). */
  const joinedRooms = (client: ClientSocket) => [...serverSocket(client).rooms].filter((r) => r !== client.id && !r.startsWith('private:'));
  /** Proves nothing sent to `socket` before now is still in flight: the server answers in order. */
  const drain = async (socket: ClientSocket) => expect(await ask(socket, 'ping')).toEqual({ pong: true });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('14: a missing permission resolves the ack with FORBIDDEN; nothing joins, nothing is delivered', async () => {
      const member = await user('bob', ['channel:read', 'channel:write'], transport);
      const outsider = await user('mallory', ['presence:read'], transport);
      expect(await ask(member, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });

      const got: unknown[] = [];
      outsider.on('message', (m) => got.push(m));
      expect(await ask(outsider, 'channel:join', { channelId: 'general' })).toEqual(FORBIDDEN);
      expect(await ask(outsider, 'message:send', { channelId: 'general', text: 'hi' })).toEqual(FORBIDDEN);
      expect(joinedRooms(outsider)).toEqual([]);

      const delivered = nextEvent<ChatMessage>(member, 'message');
      expect(await ask(member, 'message:send', { channelId: 'general', text: 'members only' })).toEqual({ ok: true });
      expect(await delivered).toEqual({ channelId: 'general', userId: 'bob', text: 'members only' });
      await drain(outsider);
      expect(got).toEqual([]);

      expect(events).toContainEqual(expect.objectContaining({
        kind: 'forbidden', code: 'FORBIDDEN', userId: 'mallory', tenantId: 'acme', namespace: '/chat', event: 'channel:join', permission: 'channel:read',
      }));
    });

    it('14: without an ack the refusal arrives as an `exception` event with the same body', async () => {
      const outsider = await user('mallory', [], transport);
      const exception = nextEvent(outsider, 'exception');
      outsider.emit('channel:join', { channelId: 'general' });
      expect(await exception).toEqual(FORBIDDEN);
    });

    it('15: a scoped grant covers exactly its channel', async () => {
      const carol = await user('carol', ['channel:read:general'], transport);
      expect(await ask(carol, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(carol, 'channel:join', { channelId: 'gen' })).toEqual(FORBIDDEN);
      expect(await ask(carol, 'channel:join', { channelId: 'general2' })).toEqual(FORBIDDEN);
      expect(await ask(carol, 'channel:join', { channelId: 'random' })).toEqual(FORBIDDEN);
      // Read-only: joined, but cannot write.
      expect(await ask(carol, 'message:send', { channelId: 'general', text: 'x' })).toEqual(FORBIDDEN);
      expect(joinedRooms(carol)).toHaveLength(1);
    });

    it("15: another tenant's channel of the same name is another channel", async () => {
      const bob = await user('bob', ['channel:read', 'channel:write'], transport);
      const dave = await user('dave', ['channel:read', 'channel:write'], transport, 'globex');
      expect(await ask(bob, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(dave, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      const toDave: ChatMessage[] = [];
      const toBob: ChatMessage[] = [];
      dave.on('message', (m: ChatMessage) => toDave.push(m));
      bob.on('message', (m: ChatMessage) => toBob.push(m));

      const own = nextEvent<ChatMessage>(bob, 'message');
      expect(await ask(bob, 'message:send', { channelId: 'general', text: 'acme only' })).toEqual({ ok: true });
      await own;
      const daves = nextEvent<ChatMessage>(dave, 'message');
      expect(await ask(dave, 'message:send', { channelId: 'general', text: 'globex only' })).toEqual({ ok: true });
      await daves;
      await drain(bob);
      await drain(dave);
      expect(toBob.map((m) => m.text)).toEqual(['acme only']);
      expect(toDave.map((m) => m.text)).toEqual(['globex only']);
      expect(joinedRooms(bob)).not.toEqual(joinedRooms(dave));
    });

    it("15: a raw socket-id room and another user's private room are unreachable", async () => {
      const victim = await user('victim', ['channel:read'], transport);
      const attacker = await user('attacker', ['channel:read', 'channel:write'], transport);
      const victimGot: unknown[] = [];
      victim.on('message', (m) => victimGot.push(m));

      // The victim's socket id is a valid resource id: it names a channel, never the socket's room.
      const victimId = victim.id as string;
      const joined = await ask(attacker, 'channel:join', { channelId: victimId });
      if (JSON.stringify(joined) === JSON.stringify({ ok: true })) {
        const echo = nextEvent(attacker, 'message');
        expect(await ask(attacker, 'message:send', { channelId: victimId, text: 'gotcha' })).toEqual({ ok: true });
        await echo;
      } else {
        expect(joined).toEqual({ error: expect.objectContaining({ code: 'VALIDATION_FAILED' }) });
      }
      expect(joinedRooms(attacker)).not.toContain(victimId);

      // The app puts the victim in a private room; neither it nor the library's own room names can even be named.
      await serverSocket(victim).join('private:acme/victim');
      for (const channelId of ['private:acme/victim', `private:${encodeURIComponent('acme')}/victim`, 'rt-room:acme/channel/general', '/chat']) {
        expect(await ask(attacker, 'channel:join', { channelId })).toEqual({ error: expect.objectContaining({ code: 'VALIDATION_FAILED' }) });
      }
      // What the server sends to the victim's private room stays there.
      const attackerGot: unknown[] = [];
      attacker.on('private', (m) => attackerGot.push(m));
      const dm = nextEvent(victim, 'private');
      gateway.server.to('private:acme/victim').emit('private', { secret: 1 });
      await dm;
      await drain(attacker);
      await drain(victim);
      expect(attackerGot).toEqual([]);
      expect(victimGot).toEqual([]);
    });

    it('16: special names are refused with VALIDATION_FAILED, never echoed, never polluting', async () => {
      const bob = await user('bob', ['channel:*'], transport);
      const names: unknown[] = ['__proto__', 'constructor', 'prototype', '', 'x'.repeat(10 * 1024), 'gen\u0000eral', 'general\r\n', '\u202egeneral',
        'gen\u200beral', 'gеneral' /* Cyrillic е */, 'ｇeneral', 42, null, { nested: 'general' }, ['general']];
      for (const channelId of names) {
        const answer = await ask(bob, 'channel:join', { channelId });
        expect(answer).toEqual({ error: { code: 'VALIDATION_FAILED', message: 'Validation failed', fields: [{ path: 'channelId', constraints: ['resourceId'] }] } });
      }
      // The resource is read as an own property only: an inherited one is never used.
      const inherited = JSON.parse('{"__proto__":{"channelId":"general"}}') as unknown;
      expect(await ask(bob, 'channel:join', inherited)).toEqual({ error: expect.objectContaining({ code: 'VALIDATION_FAILED' }) });
      const payloadItself = { error: { code: 'VALIDATION_FAILED', message: 'Validation failed', fields: [{ path: '', constraints: ['resourceId'] }] } };
      expect(await ask(bob, 'channel:join', 'general')).toEqual(payloadItself);
      expect(await ask(bob, 'channel:join', ['general'])).toEqual(payloadItself);
      expect(await ask(bob, 'channel:join')).toEqual(payloadItself);

      expect(joinedRooms(bob)).toEqual([]);
      expect(({} as Record<string, unknown>).channelId).toBeUndefined();
      expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('channelId');
      expect(events.filter((e) => e.kind === 'validation_failed').every((e) => !JSON.stringify(e).includes('general'))).toBe(true);
      expect(await ask(bob, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
    });

    it('17: a permission removed mid-session denies the next emit and leaves the rooms', async () => {
      const moderation = t.app.get(ModerationService);
      const alice = await user('alice', ['channel:read', 'channel:write'], transport);
      const bob = await user('bob', ['channel:read', 'channel:write'], transport);
      expect(await ask(alice, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(bob, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      const first = nextEvent<ChatMessage>(alice, 'message');
      expect(await ask(bob, 'message:send', { channelId: 'general', text: 'before' })).toEqual({ ok: true });
      expect((await first).text).toBe('before');

      await moderation.setPermissions('acme', 'alice', ['presence:read']);
      expect(joinedRooms(alice)).toEqual([]);
      const aliceGot: ChatMessage[] = [];
      alice.on('message', (m: ChatMessage) => aliceGot.push(m));
      expect(await ask(alice, 'message:send', { channelId: 'general', text: 'still here?' })).toEqual(FORBIDDEN);
      expect(await ask(alice, 'channel:join', { channelId: 'general' })).toEqual(FORBIDDEN);
      const bobs = nextEvent<ChatMessage>(bob, 'message');
      expect(await ask(bob, 'message:send', { channelId: 'general', text: 'after' })).toEqual({ ok: true });
      await bobs;
      await drain(alice);
      expect(aliceGot).toEqual([]);

      // A narrower grant keeps exactly what it still covers.
      await moderation.setPermissions('acme', 'alice', null);
      expect(await ask(alice, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(alice, 'channel:join', { channelId: 'random' })).toEqual({ ok: true });
      await moderation.setPermissions('acme', 'alice', ['channel:read:random']);
      expect(joinedRooms(alice)).toHaveLength(1);
      expect(joinedRooms(alice)[0]).toMatch(/\/channel\/random$/);
      await moderation.setPermissions('acme', 'alice', null);
    });

    it('17: a refreshed token with fewer permissions leaves the rooms it no longer covers', async () => {
      const alice = await user('alice', ['channel:read', 'channel:write'], transport);
      const bob = await user('bob', ['channel:read', 'channel:write'], transport);
      expect(await ask(alice, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(alice, 'channel:join', { channelId: 'random' })).toEqual({ ok: true });
      expect(await ask(bob, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      const narrower = signToken({ sub: 'alice', tenant: 'acme', perms: ['channel:read:random'] });
      expect(await ask(alice, 'auth:refresh', { token: narrower })).toEqual({ ok: true, expiresAt: expect.any(Number) });
      await waitFor('alice to leave general', () => joinedRooms(alice).length === 1);
      expect(joinedRooms(alice)[0]).toMatch(/\/channel\/random$/);
      const aliceGot: unknown[] = [];
      alice.on('message', (m) => aliceGot.push(m));
      const bobs = nextEvent(bob, 'message');
      expect(await ask(bob, 'message:send', { channelId: 'general', text: 'after refresh' })).toEqual({ ok: true });
      await bobs;
      await drain(alice);
      expect(aliceGot).toEqual([]);
    });

    it('18: an undecorated handler is denied by default and never runs', async () => {
      const admin = await user('root', ['*'], transport);
      expect(await ask(admin, 'debug:dump', {})).toEqual(FORBIDDEN);
      expect(runs.undecorated).toBe(0);
      expect(events).toContainEqual(expect.objectContaining({ kind: 'forbidden', event: 'debug:dump', reason: 'undecorated', userId: 'root' }));
    });

    it('class-level rules apply to every handler; a method decorator beats the class', async () => {
      const reader = await user('mod', ['moderation:read'], transport, 'acme', '/moderation');
      const nobody = await user('nobody', [], transport, 'acme', '/moderation');
      expect(await ask(reader, 'stats', {})).toEqual({ ok: true });
      expect(await ask(nobody, 'stats', {})).toEqual(FORBIDDEN);
      expect(await ask(nobody, 'hello', {})).toEqual({ hello: true });
      expect(await ask(reader, 'kick', {})).toEqual(FORBIDDEN);
    });
  });

  describe('the error contract', () => {
    it('an unexpected error is INTERNAL with a generic message: no stack, no detail', async () => {
      const bob = await user('bob', ['channel:read'], 'websocket');
      const answer = await ask(bob, 'crash', {});
      expect(answer).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } });
      expect(runs.crash).toBe(1);
      expect(events).toContainEqual(expect.objectContaining({ kind: 'internal_error', code: 'INTERNAL', userId: 'bob', event: 'crash' }));
      expect(await ask(bob, 'ping')).toEqual({ pong: true });
    });

    it('maps framework exceptions to stable codes without echoing their text', async () => {
      const bob = await user('bob', [], 'polling');
      const echoed = await ask(bob, 'ws-exception', { marker: 'ECHO-ME' });
      expect(echoed).toEqual({ error: { code: 'BAD_REQUEST', message: 'Bad request' } });
      expect(JSON.stringify(echoed)).not.toContain('ECHO-ME');
      expect(await ask(bob, 'not-found', {})).toEqual({ error: { code: 'NOT_FOUND', message: 'Not found' } });
      expect(await ask(bob, 'throttled', {})).toEqual({ error: { code: 'RATE_LIMITED', message: 'Rate limit exceeded' } });
    });

    it("keeps a gateway's own method-level filter in front of the library's", async () => {
      const bob = await user('bob', [], 'websocket');
      expect(await ask(bob, 'teapot', {})).toEqual({ teapot: true });
      expect(await ask(bob, 'teapot-other', {})).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } });
    });

    it('an event nobody handles is answered NOT_FOUND (its ack never hangs) and changes nothing', async () => {
      const bob = await user('bob', ['*'], 'websocket');
      expect(await bob.timeout(2000).emitWithAck('no-such-event', {})).toEqual({ error: { code: 'NOT_FOUND', message: 'Not found' } });
      expect(await ask(bob, 'ping')).toEqual({ pong: true });
    });
  });

  it('19: reserved and odd event names neither crash nor reach a handler', async () => {
    const control = await user('bob', ['channel:*'], 'websocket');
    const token = signToken({ sub: 'odd', perms: ['*'] });
    // Names Socket.IO accepts as events: they reach the socket, no handler runs, the socket is still served.
    const raw = await RawChat.open(t.port, token);
    for (const name of ['error', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'handleConnection', 'exception', 'auth:refresh ']) {
      raw.send(`42/chat,${JSON.stringify([name, { x: 1 }])}`);
      raw.send(`42/chat,1${JSON.stringify([name])}`);
    }
    raw.send('42/chat,9["ping",{}]');
    expect(await raw.frame((f) => f.startsWith('43/chat,9'))).toBe('43/chat,9[{"pong":true}]');
    // No handler ran for any of them: each ack (id 1) is the library's refusal, sent before any handler.
    const refusals = raw.frames.filter((f) => f.startsWith('43/chat,1['));
    expect(refusals).toHaveLength(8);
    for (const f of refusals) expect(f).toMatch(/^43\/chat,1\[\{"error":\{"code":"(NOT_FOUND|BAD_REQUEST)"/);
    raw.close();
    // Reserved and non-string names are protocol errors: that connection is closed, nothing else.
    for (const packet of ['42/chat,["connect"]', '42/chat,["disconnect"]', '42/chat,["disconnecting"]', '42/chat,["newListener","message"]',
      '42/chat,["removeListener","message"]', '42/chat,["connect_error",{}]', '42/chat,[{}]', '42/chat,[null]', '42/chat,[]', '42/chat,{}', '42/chat,"x"']) {
      const victim = await RawChat.open(t.port, token);
      victim.send(packet);
      await victim.closed;
    }
    expect(runs.undecorated).toBe(0);
    expect(await ask(control, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
  });
});

/** A membership lookup: async, consults its own data, and fails for one resource. */
@Injectable()
class MembershipResolver implements PermissionResolver {
  static readonly members = new Map<string, Set<string>>([['general', new Set(['acme/ann'])]]);
  readonly queries: PermissionQuery[] = [];

  async isAllowed(query: PermissionQuery): Promise<boolean> {
    this.queries.push(query);
    await new Promise((resolve) => setImmediate(resolve));
    if (query.resourceId === 'broken') throw new Error('membership database unreachable: host=db.internal password=hunter2');
    return MembershipResolver.members.get(query.resourceId ?? '')?.has(`${query.principal.tenantId}/${query.principal.userId}`) ?? false;
  }
}

describe('a pluggable permission resolver', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ gateways: [ChatGateway], security: { authorization: { permissionResolver: MembershipResolver } } });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  it('decides instead of the claims, asynchronously, with the message context', async () => {
    // Claims grant everything; the resolver grants only what membership says.
    const ann = await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'ann', perms: ['*'] }) } });
    expect(await ann.timeout(ACK_TIMEOUT_MS).emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    expect(await ann.timeout(ACK_TIMEOUT_MS).emitWithAck('channel:join', { channelId: 'random' })).toEqual(FORBIDDEN);
    const resolver = t.app.get<MembershipResolver>(PermissionResolver);
    expect(resolver.queries).toContainEqual(expect.objectContaining({ permission: 'channel:read', resourceId: 'random', namespace: '/chat', event: 'channel:join' }));
  });

  it('a resolver that throws refuses with INTERNAL; the detail stays in the server; the process goes on', async () => {
    const ann = await connected(t.url, '/chat', { auth: { token: signToken({ sub: 'ann', perms: ['*'] }) } });
    const answer = await ann.timeout(ACK_TIMEOUT_MS).emitWithAck('channel:join', { channelId: 'broken' });
    expect(answer).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } });
    expect(JSON.stringify(answer)).not.toContain('hunter2');
    expect(await ann.timeout(ACK_TIMEOUT_MS).emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
  });
});
