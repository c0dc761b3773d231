import { connect as netConnect } from 'node:net';
import { Controller, Get, HttpCode, Param, Post, Req, Sse, type MessageEvent } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { interval, map, of, throwError, type Observable } from 'rxjs';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { ConnectionLeaseStore } from '../../lib/interfaces/connection-lease-store.interface.js';
import {
  ModerationService,
  PresenceService,
  SecurityInventoryService,
  SseAuthorize,
  SsePrincipal,
  SsePublic,
  SseStreamService,
  SseTicketService,
  SseTopics,
  userKey,
  type Principal,
} from '../../lib/index.js';
import { Test } from '@nestjs/testing';
import { EventSource } from 'eventsource';
import { startApp, type TestApp } from '../support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { closeAllClients, connect } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { closeAllStreams, openStream } from '../support/sse.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const ALLOWED = 'http://app.example';
const READER = ['notifications:read', 'feed:read:ops'];

@Controller('s')
class StreamsController {
  constructor(private readonly topics: SseTopics, private readonly tickets: SseTicketService) {}

  @SseAuthorize('notifications:read')
  @Sse('notes')
  notes(@SsePrincipal() principal: Principal): Observable<MessageEvent> {
    return this.topics.stream(principal, 'inbox');
  }

  @SseAuthorize('feed:read', { resource: 'topic' })
  @Sse('feed/:topic')
  feed(@SsePrincipal() principal: Principal, @Param('topic') topic: string): Observable<MessageEvent> {
    return this.topics.stream(principal, topic);
  }

  @Sse('undecorated')
  undecorated(): Observable<MessageEvent> {
    return interval(1000).pipe(map(() => ({ data: 'leak' })));
  }

  @SsePublic()
  @Sse('finite')
  finite(): Observable<MessageEvent> {
    return of({ type: 'one', data: { n: 1 } }, { type: 'two', data: { n: 2 } });
  }

  @SsePublic()
  @Sse('failing')
  failing(): Observable<MessageEvent> {
    return throwError(() => new Error('database password=hunter2 unreachable'));
  }

  @Get('plain')
  plain(): { ok: boolean } {
    return { ok: true };
  }

  @Post('ticket')
  @HttpCode(200)
  ticket(@Req() request: IncomingMessage) {
    return this.tickets.issueForRequest(request);
  }
}

/** A bare @Sse() route outside any protection: what the audit must flag (served by an app without the module). */
@Controller('bare')
class BareController {
  @Sse('stream')
  stream(): Observable<MessageEvent> {
    return interval(60_000).pipe(map(() => ({ data: 'tick' })));
  }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('Server-Sent Events under the same protection (issue 15)', () => {
  let target: TestApp;
  let logger: CapturingLogger;
  let lifecycle: ConnectionLifecycle;
  let leases: ConnectionLeaseStore;
  let topics: SseTopics;
  let streams: SseStreamService;

  const count = (user = 'alice', tenant = 'acme') => leases.count(userKey(tenant, user));

  beforeAll(async () => {
    logger = new CapturingLogger();
    target = await startApp({
      controllers: [StreamsController],
      gateways: [pingGateway('/chat')],
      logger,
      security: {
        logSecurityEvents: true,
        credentials: { cookieName: 'rt_session' },
        origins: { allowed: [ALLOWED] },
        connections: { maxPerUser: 3 },
        presence: { flapWindowMs: 0 },
        sse: { heartbeatMs: 1000, maxBufferedBytes: 16 * 1024, tickets: { ttlMs: 1000 } },
      },
    });
    lifecycle = target.app.get(ConnectionLifecycle);
    leases = target.app.get(ConnectionLeaseStore);
    topics = target.app.get(SseTopics);
    streams = target.app.get(SseStreamService);
  });

  afterEach(async () => {
    await closeAllStreams();
    closeAllClients();
    await waitFor('every slot released', () => lifecycle.connectionCount === 0);
  });

  afterAll(async () => {
    await target.close();
  });

  describe('authentication before the first byte', () => {
    it('refuses a stream without a credential with 401 UNAUTHORIZED as JSON (THREATS 35)', async () => {
      const stream = await openStream(`${target.url}/s/notes`);
      expect(stream.status).toBe(401);
      expect(stream.headers.get('content-type')).toMatch(/application\/json/);
      expect(stream.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    });

    it('refuses a token in the query string with 401, even next to a valid Bearer header, and never logs it (THREATS 35)', async () => {
      const token = signToken({ sub: 'alice', perms: READER });
      for (const query of [`token=${token}`, `access_token=${token}`, `x=${token}`, `auth=anything`]) {
        const stream = await openStream(`${target.url}/s/notes?${query}`, bearer(token));
        expect(stream.status).toBe(401);
        expect(stream.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
      }
      expect(await count()).toBe(0);
      expect(logger.text()).not.toContain(token);
      expect(logger.text()).not.toContain(token.split('.')[2]);
    });

    it('refuses a forged or expired token (401 UNAUTHORIZED / TOKEN_EXPIRED)', async () => {
      const forged = await openStream(`${target.url}/s/notes`, bearer(signToken({ perms: READER }, { secret: 'another-secret-that-is-long-enough-for-hs256-xx' })));
      expect(forged.status).toBe(401);
      expect((forged.body as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
      const expired = await openStream(`${target.url}/s/notes`, bearer(signToken({ perms: READER }, { expiresInSeconds: -60 })));
      expect(expired.status).toBe(401);
      expect((expired.body as { error: { code: string } }).error.code).toBe('TOKEN_EXPIRED');
    });

    it('accepts a Bearer header and streams with hygiene headers (THREATS 39)', async () => {
      const stream = await openStream(`${target.url}/s/notes`, bearer(signToken({ sub: 'alice', perms: READER })));
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const cache = stream.headers.get('cache-control') ?? '';
      expect(cache).toMatch(/no-store/);
      expect(cache).toMatch(/no-transform/);
      expect(stream.headers.get('x-accel-buffering')).toBe('no');
      await waitFor('the stream is open', () => streams.stats.open === 1);
      topics.publish('acme', 'inbox', { type: 'note', data: { hello: 'alice' } });
      expect(JSON.parse((await stream.next('note')).data)).toEqual({ hello: 'alice' });
      // A heartbeat comment follows within the configured interval.
      await stream.next('comment', 5000);
    });

    it('lets other HTTP routes through untouched', async () => {
      const response = await fetch(`${target.url}/s/plain`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true });
    });
  });

  describe('inventory', () => {
    it('lists every @Sse() route beside the gateways, with credentials, Origin policy, limits and access; names the undecorated one', () => {
      const inventory = target.app.get(SecurityInventoryService).getInventory();
      const byPath = new Map(inventory.streams.map((s) => [s.path, s]));
      expect(byPath.get('/s/notes')).toMatchObject({ access: 'permission', permission: 'notifications:read', controller: 'StreamsController', method: 'notes' });
      expect(byPath.get('/s/feed/:topic')).toMatchObject({ access: 'permission', permission: 'feed:read', resource: 'topic' });
      expect(byPath.get('/s/finite')).toMatchObject({ access: 'public' });
      expect(byPath.get('/s/notes')?.limits).toMatchObject({ maxConnectionsPerUser: 3, maxBufferedBytes: 16 * 1024, heartbeatMs: 1000 });
      expect(byPath.get('/s/notes')?.credentials.join(' ')).toMatch(/Bearer/);
      expect(inventory.deniedStreams.map((s) => s.path)).toEqual(['/s/undecorated']);
      expect(inventory.namespaces.map((n) => n.namespace)).toContain('/chat');
      expect(logger.text()).toMatch(/GET \/s\/undecorated\s+StreamsController\.undecorated\s+DENIED/);
      expect(logger.matching('StreamsController.undecorated (@Sse "/s/undecorated") has neither @SseAuthorize nor @SsePublic()')).toHaveLength(1);
    });
  });

  describe('Origin for cookie-bearing streams (THREATS 36)', () => {
    it('refuses a cookie from a foreign, null or missing Origin with 403 ORIGIN_REJECTED; accepts the allowed one', async () => {
      const cookie = `rt_session=${signToken({ sub: 'alice', perms: READER })}`;
      for (const origin of ['http://evil.example', 'null', 'http://app.example.evil.example', undefined]) {
        const stream = await openStream(`${target.url}/s/notes`, { cookie, ...(origin !== undefined ? { origin } : {}) });
        expect(stream.status).toBe(403);
        expect(stream.body).toEqual({ error: { code: 'ORIGIN_REJECTED', message: expect.any(String) } });
      }
      const allowed = await openStream(`${target.url}/s/notes`, { cookie, origin: ALLOWED });
      expect(allowed.status).toBe(200);
    });

    it('a cross-site page cannot fill the victim\'s slots nor make them look online', async () => {
      const presence = target.app.get(PresenceService);
      const cookie = `rt_session=${signToken({ sub: 'victim', perms: READER })}`;
      const attempts = await Promise.all(Array.from({ length: 6 }, () => openStream(`${target.url}/s/notes`, { cookie, origin: 'http://evil.example' })));
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403, 403, 403]);
      expect(await count('victim')).toBe(0);
      expect(await presence.isOnline('acme', 'victim')).toBe(false);
      // The victim still has every one of their slots.
      const own = await Promise.all(Array.from({ length: 3 }, () => openStream(`${target.url}/s/notes`, { cookie, origin: ALLOWED })));
      expect(own.map((s) => s.status)).toEqual([200, 200, 200]);
    });
  });

  describe('access rules (THREATS 37)', () => {
    it('refuses an @Sse() route with no rule (deny by default) and a missing permission with 403 FORBIDDEN', async () => {
      const token = signToken({ sub: 'alice', perms: ['*'] });
      const undecorated = await openStream(`${target.url}/s/undecorated`, bearer(token));
      expect(undecorated.status).toBe(403);
      expect((undecorated.body as { error: { code: string } }).error.code).toBe('FORBIDDEN');
      const lacking = await openStream(`${target.url}/s/notes`, bearer(signToken({ sub: 'alice', perms: ['channel:read'] })));
      expect(lacking.status).toBe(403);
      expect(await count()).toBe(0);
    });

    it('authorizes the topic per instance: feed:read:ops opens /feed/ops, not /feed/dev; a bad id is 400', async () => {
      const token = signToken({ sub: 'alice', perms: READER });
      expect((await openStream(`${target.url}/s/feed/ops`, bearer(token))).status).toBe(200);
      expect((await openStream(`${target.url}/s/feed/dev`, bearer(token))).status).toBe(403);
      const bad = await openStream(`${target.url}/s/feed/${encodeURIComponent('op*s')}`, bearer(signToken({ sub: 'alice', perms: ['feed:read'] })));
      expect(bad.status).toBe(400);
      expect((bad.body as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    });

    it('never carries another tenant\'s events: the same topic in two tenants is two topics', async () => {
      const acme = await openStream(`${target.url}/s/feed/ops`, bearer(signToken({ sub: 'alice', tenant: 'acme', perms: ['feed:read'] })));
      const globex = await openStream(`${target.url}/s/feed/ops`, bearer(signToken({ sub: 'alice', tenant: 'globex', perms: ['feed:read'] })));
      await waitFor('both streams open', () => streams.stats.open === 2);
      topics.publish('globex', 'ops', { type: 'alert', data: { secret: 'globex-only' } });
      topics.publish('acme', 'ops', { type: 'alert', data: { n: 'acme' } });
      expect(JSON.parse((await acme.next('alert')).data)).toEqual({ n: 'acme' });
      expect(JSON.parse((await globex.next('alert')).data)).toEqual({ secret: 'globex-only' });
      expect(acme.events.filter((e) => e.type === 'alert')).toHaveLength(1);
    });
  });

  describe('one ceiling across transports (THREATS 38)', () => {
    it('2 sockets + 1 stream = 3 of 3: a 4th socket and a 4th stream are refused; closing the stream frees a slot', async () => {
      const token = signToken({ sub: 'alice', perms: READER });
      for (let i = 0; i < 2; i += 1) expect((await connect(target.url, '/chat', { auth: { token } })).connected).toBe(true);
      const stream = await openStream(`${target.url}/s/notes`, bearer(token));
      expect(stream.status).toBe(200);
      await waitFor('3 slots', async () => (await count()) === 3);
      const fourthSocket = await connect(target.url, '/chat', { auth: { token } });
      expect(fourthSocket.connected).toBe(false);
      expect(fourthSocket.error?.data?.code).toBe('CONNECTION_LIMIT');
      const fourthStream = await openStream(`${target.url}/s/notes`, bearer(token));
      expect(fourthStream.status).toBe(429);
      expect((fourthStream.body as { error: { code: string } }).error.code).toBe('CONNECTION_LIMIT');
      stream.abort();
      await waitFor('the stream\'s slot released', async () => (await count()) === 2);
      expect((await connect(target.url, '/chat', { auth: { token } })).connected).toBe(true);
    });

    it('releases the slot exactly once on client abort, server end and a failing producer (no error text leaks)', async () => {
      const token = signToken({ sub: 'alice', perms: READER });
      const aborted = await openStream(`${target.url}/s/notes`, bearer(token));
      await waitFor('open', async () => (await count()) === 1);
      aborted.abort();
      await waitFor('released after abort', async () => (await count()) === 0 && lifecycle.connectionCount === 0);

      const finite = await openStream(`${target.url}/s/finite`, bearer(token));
      await finite.ended;
      expect(finite.events.map((e) => e.type)).toEqual(['one', 'two']);
      await waitFor('released after server end', async () => (await count()) === 0 && lifecycle.connectionCount === 0);

      const failing = await openStream(`${target.url}/s/failing`, bearer(token));
      const error = await failing.next('error');
      expect(JSON.parse(error.data)).toEqual({ code: 'INTERNAL' });
      expect(error.data).not.toContain('hunter2');
      await failing.ended;
      await waitFor('released after a producer error', async () => (await count()) === 0 && lifecycle.connectionCount === 0);
    });

    it('a stream is a server-observed connection: online while open, offline once it closes', async () => {
      const presence = target.app.get(PresenceService);
      const stream = await openStream(`${target.url}/s/notes`, bearer(signToken({ sub: 'streamer', perms: READER })));
      await waitFor('online from a stream', () => presence.isOnline('acme', 'streamer'));
      expect((await presence.get('acme', 'streamer')).connections).toBe(1);
      stream.abort();
      await waitFor('offline once it closes', async () => !(await presence.isOnline('acme', 'streamer')));
    });

    it('drops a client that stops reading once its buffered events pass the bound, and releases its slot', async () => {
      const token = signToken({ sub: 'slow', perms: READER });
      const socket = netConnect(target.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      let closed = false;
      socket.on('close', () => { closed = true; });
      socket.on('error', () => undefined);
      socket.write(`GET /s/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      await waitFor('the slow stream open', async () => (await count('slow')) === 1);
      socket.pause();
      const chunk = 'x'.repeat(64 * 1024);
      let published = 0;
      await waitFor('the slow reader dropped', async () => {
        if ((await count('slow')) === 0) return true;
        for (let i = 0; i < 8; i += 1) topics.publish('acme', 'inbox', { type: 'bulk', data: chunk });
        published += 8;
        return false;
      }, 60_000, 20);
      expect(published).toBeGreaterThan(0);
      expect(lifecycle.connectionCount).toBe(0);
      socket.destroy();
      await waitFor('socket closed', () => closed);
    });
  });

  describe('lifetime and revocation (THREATS 38)', () => {
    it('token expiry ends the stream with a final error event TOKEN_EXPIRED and releases the slot', async () => {
      const stream = await openStream(`${target.url}/s/notes`, bearer(signToken({ sub: 'alice', perms: READER }, { expiresInSeconds: 2 })));
      expect(stream.status).toBe(200);
      const error = await stream.next('error', 10_000);
      expect(JSON.parse(error.data)).toEqual({ code: 'TOKEN_EXPIRED' });
      await stream.ended;
      await waitFor('released after expiry', async () => (await count()) === 0);
    });

    it('a ban ends the user\'s streams with BANNED at once, and a new stream is refused with 403 BANNED', async () => {
      const moderation = target.app.get(ModerationService);
      const token = signToken({ sub: 'banme', perms: READER });
      const stream = await openStream(`${target.url}/s/notes`, bearer(token));
      await waitFor('open', async () => (await count('banme')) === 1);
      const started = Date.now();
      await moderation.banUser('acme', 'banme');
      const error = await stream.next('error');
      const tookMs = Date.now() - started;
      expect(JSON.parse(error.data)).toEqual({ code: 'BANNED' });
      expect(tookMs).toBeLessThan(5000);
      await stream.ended;
      await waitFor('released after the ban', async () => (await count('banme')) === 0);
      const again = await openStream(`${target.url}/s/notes`, bearer(token));
      expect(again.status).toBe(403);
      expect((again.body as { error: { code: string } }).error.code).toBe('BANNED');
      await moderation.unbanUser('acme', 'banme');
    });

    it('disconnectUser ends streams with UNAUTHORIZED; losing the permission ends them with FORBIDDEN', async () => {
      const moderation = target.app.get(ModerationService);
      const token = signToken({ sub: 'moddy', perms: READER });
      const first = await openStream(`${target.url}/s/notes`, bearer(token));
      await waitFor('open', async () => (await count('moddy')) === 1);
      await moderation.disconnectUser('acme', 'moddy');
      expect(JSON.parse((await first.next('error')).data)).toEqual({ code: 'UNAUTHORIZED' });
      await waitFor('released', async () => (await count('moddy')) === 0);

      const second = await openStream(`${target.url}/s/notes`, bearer(token));
      await waitFor('open again', async () => (await count('moddy')) === 1);
      await moderation.setPermissions('acme', 'moddy', ['channel:read']);
      expect(JSON.parse((await second.next('error')).data)).toEqual({ code: 'FORBIDDEN' });
      await waitFor('released', async () => (await count('moddy')) === 0);
      const refused = await openStream(`${target.url}/s/notes`, bearer(token));
      expect(refused.status).toBe(403);
      await moderation.setPermissions('acme', 'moddy', null);
    });
  });

  describe('through the eventsource package (a W3C EventSource client)', () => {
    it('receives events with a Bearer header; a ban ends it with the coded error event, and its automatic reconnect is refused for good', async () => {
      const moderation = target.app.get(ModerationService);
      const token = signToken({ sub: 'es-user', perms: READER });
      const source = new EventSource(`${target.url}/s/notes`, {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${token}` } }),
      });
      try {
        await new Promise<void>((resolve) => source.addEventListener('open', () => resolve(), { once: true }));
        const note = new Promise<string>((resolve) => source.addEventListener('note', (e) => resolve(e.data), { once: true }));
        topics.publish('acme', 'inbox', { type: 'note', data: { n: 1 } });
        expect(JSON.parse(await note)).toEqual({ n: 1 });
        const coded = new Promise<string>((resolve) => source.addEventListener('error', (e) => {
          const data = (e as unknown as { data?: string }).data;
          if (typeof data === 'string') resolve(data);
        }));
        await moderation.banUser('acme', 'es-user');
        expect(JSON.parse(await coded)).toEqual({ code: 'BANNED' });
        // The client reconnects by itself after the end: 403 BANNED fails it for good (CLOSED).
        await waitFor('the reconnect refused for good', () => source.readyState === EventSource.CLOSED, 15_000);
        expect(await count('es-user')).toBe(0);
      } finally {
        source.close();
        await moderation.unbanUser('acme', 'es-user');
      }
    });
  });

  describe('stream tickets (THREATS 35)', () => {
    it('a ticket minted with a Bearer header opens one stream, once; it is refused the second time and never logged', async () => {
      const token = signToken({ sub: 'ticketed', perms: READER });
      const minted = await fetch(`${target.url}/s/ticket`, { method: 'POST', headers: bearer(token) });
      expect(minted.status).toBe(200);
      const { ticket, expiresInMs } = (await minted.json()) as { ticket: string; expiresInMs: number };
      expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(expiresInMs).toBeLessThanOrEqual(1000);
      const first = await openStream(`${target.url}/s/notes?ticket=${ticket}`);
      expect(first.status).toBe(200);
      await waitFor('open', async () => (await count('ticketed')) === 1);
      const replay = await openStream(`${target.url}/s/notes?ticket=${ticket}`);
      expect(replay.status).toBe(401);
      expect(logger.text()).not.toContain(ticket);
    });

    it('a ticket is worthless after its lifetime; minting needs a Bearer header (a cookie is not enough)', async () => {
      const token = signToken({ sub: 'ticketed', perms: READER });
      const { ticket } = (await (await fetch(`${target.url}/s/ticket`, { method: 'POST', headers: bearer(token) })).json()) as { ticket: string };
      const issuedAt = Date.now();
      await waitFor('the ticket lifetime passed', () => Date.now() > issuedAt + 1100, 5000, 50);
      expect((await openStream(`${target.url}/s/notes?ticket=${ticket}`)).status).toBe(401);
      const byCookie = await fetch(`${target.url}/s/ticket`, { method: 'POST', headers: { cookie: `rt_session=${token}`, origin: ALLOWED } });
      expect(byCookie.status).toBe(401);
      expect((await openStream(`${target.url}/s/notes?ticket=${'A'.repeat(43)}`)).status).toBe(401);
    });
  });
});

describe('Server-Sent Events: per-address rate limit and shutdown', () => {
  it('applies the per-address handshake limit to streams (429 RATE_LIMITED)', async () => {
    const target = await startApp({
      controllers: [StreamsController],
      security: { rateLimit: { handshakesPerAddress: 2, handshakeWindowMs: 60_000 } },
    });
    try {
      const token = signToken({ sub: 'alice', perms: READER });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const stream = await openStream(`${target.url}/s/finite`, bearer(token));
        statuses.push(stream.status);
        await stream.ended;
      }
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await closeAllStreams();
      await target.close();
    }
  });

  it('optional lifetimes: an idle stream ends after sse.idleTimeoutMs, a busy one after sse.maxLifetimeMs; both release their slot', async () => {
    const idleApp = await startApp({ controllers: [StreamsController], security: { sse: { heartbeatMs: 1000, idleTimeoutMs: 1000 } } });
    const maxApp = await startApp({ controllers: [StreamsController], security: { sse: { heartbeatMs: 1000, maxLifetimeMs: 2000 } } });
    try {
      const token = signToken({ sub: 'alice', perms: READER });
      const idle = await openStream(`${idleApp.url}/s/notes`, bearer(token));
      const busy = await openStream(`${maxApp.url}/s/notes`, bearer(token));
      expect([idle.status, busy.status]).toEqual([200, 200]);
      const topicsOfMax = maxApp.app.get(SseTopics);
      const ticker = setInterval(() => topicsOfMax.publish('acme', 'inbox', { type: 'note', data: { t: Date.now() } }), 200);
      try {
        await idle.ended;
        await busy.ended;
      } finally {
        clearInterval(ticker);
      }
      expect(busy.events.filter((e) => e.type === 'note').length).toBeGreaterThan(0);
      for (const app of [idleApp, maxApp]) {
        await waitFor('slot released', async () => (await app.app.get(ConnectionLeaseStore).count(userKey('acme', 'alice'))) === 0);
      }
    } finally {
      await closeAllStreams();
      await idleApp.close();
      await maxApp.close();
    }
  });

  it('application shutdown ends open streams and releases every slot', async () => {
    const target = await startApp({ controllers: [StreamsController] });
    const leases = target.app.get(ConnectionLeaseStore);
    const presence = target.app.get(PresenceService);
    const token = signToken({ sub: 'alice', perms: READER });
    const stream = await openStream(`${target.url}/s/notes`, bearer(token));
    await waitFor('open', async () => (await leases.count(userKey('acme', 'alice'))) === 1);
    await target.close();
    await stream.ended;
    expect(await leases.count(userKey('acme', 'alice'))).toBe(0);
    expect(await presence.isOnline('acme', 'alice')).toBe(false);
  });
});

describe('audit --sse-url', () => {
  it('passes every sse.* check against a library app, never prints the token; fails them against a bare @Sse() route', async () => {
    const { parseAuditArguments, runAudit } = await import('../../lib/cli/index.js');
    const secured = await startApp({
      controllers: [StreamsController],
      gateways: [pingGateway('/chat')],
      security: { credentials: { cookieName: 'rt_session' }, origins: { allowed: ['http://app.audit.test'] }, connections: { maxPerUser: 3 } },
    });
    const bareModule = await Test.createTestingModule({ controllers: [BareController] }).compile();
    const bareApp = bareModule.createNestApplication({ logger: false });
    await bareApp.listen(0, '127.0.0.1');
    const bare = { url: `http://127.0.0.1:${(bareApp.getHttpServer().address() as { port: number }).port}`, close: () => bareApp.close() };
    try {
      const token = signToken({ sub: 'auditor', perms: READER });
      const options = (url: string, path: string) => {
        const command = parseAuditArguments(['audit', '--url', url, '--namespace', '/chat', '--token', token, '--cookie-name', 'rt_session',
          '--allowed-origin', 'http://app.audit.test', '--max-connections', '3', '--sse-url', path, '--step-timeout', '2000', '--settle', '200']);
        if (command.kind !== 'audit') throw new Error('expected an audit command');
        return command.options;
      };
      const ids = ['sse.unauthenticated', 'sse.query-token', 'sse.cookie-origin', 'sse.cache-headers', 'sse.connection-ceiling', 'sse.slot-release'];
      const report = await runAudit(options(secured.url, '/s/notes'));
      const sse = report.results.filter((r) => r.id.startsWith('sse.'));
      expect(sse.map((r) => [r.id, r.status])).toEqual(ids.map((id) => [id, 'PASS']));
      expect(sse.find((r) => r.id === 'sse.connection-ceiling')?.evidence).toContain('stream 4 refused with HTTP 429 CONNECTION_LIMIT');
      expect(JSON.stringify(report)).not.toContain(token);

      const open = await runAudit(options(bare.url, '/bare/stream'), (await import('../../lib/cli/audit.runner.js')).AUDIT_CHECKS.filter((c) => c.id === 'sse'));
      const statuses = new Map(open.results.map((r) => [r.id, r.status]));
      expect(statuses.get('sse.unauthenticated')).toBe('FAIL');
      expect(statuses.get('sse.query-token')).toBe('FAIL');
      expect(statuses.get('sse.connection-ceiling')).toBe('FAIL');
    } finally {
      await closeAllStreams();
      await secured.close();
      await bare.close();
    }
  });
});
