import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { SecureIoAdapter } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { closeAllStreams, openStream } from '../support/sse.js';
import { signToken } from '../support/tokens.js';

const SECRET = 'sample-sse-secret-0123456789-abcdefghijklmnopqrst';
const ORIGIN = 'http://127.0.0.1:1';

async function startSample(env: Record<string, string>): Promise<{ app: INestApplication; url: string }> {
  const config = loadSampleConfig({ JWT_SECRET: SECRET, MAX_CONNECTIONS_PER_USER: '3', DEMO_LOGIN: 'off', ALLOWED_ORIGINS: ORIGIN, ...env });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useWebSocketAdapter(new SecureIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

const tok = (sub: string, perms: string[], tenant = 'acme') => signToken({ sub, tenant, perms }, { secret: SECRET });
const CHAT = ['channel:read', 'channel:write', 'presence:read', 'notifications:read'];
const code = (body: unknown) => (body as { error: { code: string } }).error.code;

/** SAMPLE_CONTRACT.md, round 2: `GET /chat/notifications` and `POST /chat/stream-ticket`. */
describe('sample app: notifications over Server-Sent Events', () => {
  let sample: { app: INestApplication; url: string };
  beforeAll(async () => { sample = await startSample({}); });
  afterEach(async () => {
    await closeAllStreams();
    closeAllClients();
  });
  afterAll(async () => { await sample.app.close(); });

  it('streams mentions of @userId to that user only (same tenant, a channel they can read), with Cache-Control: no-store', async () => {
    const bob = await openStream(`${sample.url}/chat/notifications`, { authorization: `Bearer ${tok('bob', CHAT)}` });
    const carolReader = await openStream(`${sample.url}/chat/notifications`, { authorization: `Bearer ${tok('carol', ['channel:read:general', 'notifications:read'])}` });
    const otherBob = await openStream(`${sample.url}/chat/notifications`, { authorization: `Bearer ${tok('bob', CHAT, 'globex')}` });
    expect([bob.status, carolReader.status, otherBob.status]).toEqual([200, 200, 200]);
    expect(bob.headers.get('cache-control')).toMatch(/no-store/);
    const alice = await connected(sample.url, '/chat', { auth: { token: tok('alice', CHAT) } });
    for (const channelId of ['general', 'random']) expect(await alice.emitWithAck('channel:join', { channelId })).toEqual({ ok: true });
    expect(await alice.emitWithAck('message:send', { channelId: 'random', text: '@carol @bob in random' })).toMatchObject({ ok: true });
    expect(await alice.emitWithAck('message:send', { channelId: 'general', text: 'hello @bob and @carol' })).toMatchObject({ ok: true });
    expect(JSON.parse((await bob.next('mention')).data)).toEqual({ channelId: 'random', from: 'alice', text: '@carol @bob in random' });
    // Carol may read #general only: she gets the second mention, never the first.
    expect(JSON.parse((await carolReader.next('mention')).data)).toEqual({ channelId: 'general', from: 'alice', text: 'hello @bob and @carol' });
    await bob.next('mention');
    expect(bob.events.filter((e) => e.type === 'mention')).toHaveLength(2);
    expect(carolReader.events.filter((e) => e.type === 'mention')).toHaveLength(1);
    expect(otherBob.events.filter((e) => e.type === 'mention')).toHaveLength(0);
  });

  it('refuses before any stream byte: no credential 401, JWT in the query 401, no notifications:read 403, foreign cookie Origin 403, past the ceiling 429', async () => {
    const token = tok('alice', CHAT);
    const none = await openStream(`${sample.url}/chat/notifications`);
    expect([none.status, code(none.body)]).toEqual([401, 'UNAUTHORIZED']);
    const query = await openStream(`${sample.url}/chat/notifications?token=${token}`);
    expect([query.status, code(query.body)]).toEqual([401, 'UNAUTHORIZED']);
    const carol = await openStream(`${sample.url}/chat/notifications`, { authorization: `Bearer ${tok('carol', ['channel:read:general'])}` });
    expect([carol.status, code(carol.body)]).toEqual([403, 'FORBIDDEN']);
    const foreign = await openStream(`${sample.url}/chat/notifications`, { cookie: `rt_session=${token}`, origin: 'http://evil.example' });
    expect([foreign.status, code(foreign.body)]).toEqual([403, 'ORIGIN_REJECTED']);
    const cookie = await openStream(`${sample.url}/chat/notifications`, { cookie: `rt_session=${token}`, origin: ORIGIN });
    expect(cookie.status).toBe(200);
    await connected(sample.url, '/chat', { auth: { token } });
    await connected(sample.url, '/chat', { auth: { token } });
    const fourth = await openStream(`${sample.url}/chat/notifications`, { authorization: `Bearer ${token}` });
    expect([fourth.status, code(fourth.body)]).toEqual([429, 'CONNECTION_LIMIT']);
    expect((await connect(sample.url, '/chat', { auth: { token } })).error?.data?.code).toBe('CONNECTION_LIMIT');
  });

  it('POST /chat/stream-ticket (Bearer) answers { ticket, expiresInMs }; the ticket opens one stream, once', async () => {
    const response = await fetch(`${sample.url}/chat/stream-ticket`, { method: 'POST', headers: { authorization: `Bearer ${tok('alice', CHAT)}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { ticket: string; expiresInMs: number };
    expect(Object.keys(body).sort()).toEqual(['expiresInMs', 'ticket']);
    expect(body.expiresInMs).toBeGreaterThan(0);
    expect(body.expiresInMs).toBeLessThanOrEqual(10_000);
    expect((await openStream(`${sample.url}/chat/notifications?ticket=${body.ticket}`)).status).toBe(200);
    expect((await openStream(`${sample.url}/chat/notifications?ticket=${body.ticket}`)).status).toBe(401);
    expect((await fetch(`${sample.url}/chat/stream-ticket`, { method: 'POST' })).status).toBe(401);
  });
});

describe('sample app: STREAM_TICKETS=off', () => {
  it('removes POST /chat/stream-ticket and refuses ?ticket=', async () => {
    const sample = await startSample({ STREAM_TICKETS: 'off' });
    try {
      expect((await fetch(`${sample.url}/chat/stream-ticket`, { method: 'POST', headers: { authorization: `Bearer ${tok('alice', CHAT)}` } })).status).toBe(404);
      const stream = await openStream(`${sample.url}/chat/notifications?ticket=${'A'.repeat(43)}`);
      expect([stream.status, code(stream.body)]).toEqual([401, 'UNAUTHORIZED']);
    } finally {
      await closeAllStreams();
      await sample.app.close();
    }
  });
});
