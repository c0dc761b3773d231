import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SecureIoAdapter } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connect, connected, TRANSPORTS } from '../support/clients.js';
import { JwksServer, signingKey, signWith, type SigningKey } from '../support/jwks.js';
import { signToken } from '../support/tokens.js';

/** The sample's JWKS_URL, JWT_ISSUER and JWT_AUDIENCE settings (SAMPLE_CONTRACT.md, round 2 additions). */

const SECRET = 'sample-jwks-spec-secret-0123456789-abcdefghijklmn';
const PAGE_ORIGIN = 'http://app.example.test';
const ISSUER = 'https://idp.example.test/realms/acme';
const AUDIENCE = 'chat';

async function startSample(env: Record<string, string>): Promise<{ app: INestApplication; url: string }> {
  const config = loadSampleConfig({ PORT: '0', METRICS_PORT: '0', JWT_SECRET: SECRET, ALLOWED_ORIGINS: PAGE_ORIGIN, HANDSHAKE_RATE_PER_ADDRESS: '0', ...env });
  const app = await NestFactory.create(AppModule.register(config), { logger: false });
  app.useWebSocketAdapter(new SecureIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

async function outcome(url: string, token: string, transport: 'polling' | 'websocket' = 'websocket'): Promise<string> {
  const result = await connect(url, '/chat', { transports: [transport], auth: { token } });
  result.socket.disconnect();
  return result.connected ? 'ok' : String(result.error?.data?.code);
}

const CLAIMS = { sub: 'alice', tenant: 'acme', perms: ['channel:*', 'presence:read'], iss: ISSUER, aud: AUDIENCE };

describe('sample: JWKS_URL with JWT_ISSUER and JWT_AUDIENCE', () => {
  let jwks: JwksServer;
  let sample: { app: INestApplication; url: string };
  const keys: Record<string, SigningKey> = {};

  beforeAll(async () => {
    keys.rs = await signingKey('rs', 'RS256');
    keys.es = await signingKey('es', 'ES256');
    keys.ed = await signingKey('ed', 'EdDSA');
    jwks = await new JwksServer().start();
    jwks.publish(keys.rs, keys.es, keys.ed);
    sample = await startSample({ JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await sample?.app.close();
    await jwks?.close();
  });

  it.each(TRANSPORTS)('accepts RS256, ES256 and EdDSA tokens of the key set, chosen by kid, and serves /chat (%s)', async (transport) => {
    for (const name of ['rs', 'es', 'ed']) {
      const socket = await connected(sample.url, '/chat', { transports: [transport], auth: { token: await signWith(keys[name] as SigningKey, CLAIMS) } });
      expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await socket.emitWithAck('channel:leave', { channelId: 'general' })).toEqual({ ok: true });
      socket.disconnect();
    }
  });

  it('refuses an HS256 token signed with JWT_SECRET (not used with JWKS_URL), a wrong iss and a wrong aud', async () => {
    expect(await outcome(sample.url, signToken(CLAIMS, { secret: SECRET }))).toBe('UNAUTHORIZED');
    expect(await outcome(sample.url, await signWith(keys.rs as SigningKey, { ...CLAIMS, iss: 'https://other.test' }))).toBe('UNAUTHORIZED');
    expect(await outcome(sample.url, await signWith(keys.rs as SigningKey, { ...CLAIMS, aud: 'other' }))).toBe('UNAUTHORIZED');
  });

  it('removes the demo login (it could only sign with JWT_SECRET); the moderation routes take key-set tokens', async () => {
    const login = await fetch(`${sample.url}/demo/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: PAGE_ORIGIN }, body: '{"userId":"alice"}' });
    expect(login.status).toBe(404);
    const mod = await signWith(keys.ed as SigningKey, { ...CLAIMS, sub: 'mod', perms: ['moderation:read'] });
    const presence = await fetch(`${sample.url}/moderation/presence`, { headers: { authorization: `Bearer ${mod}` } });
    expect(presence.status).toBe(200);
  });

  it('refuses handshakes with SERVICE_UNAVAILABLE and moderation with 503 while no key set could be fetched', async () => {
    const down = await new JwksServer().start();
    down.setMode('error');
    const other = await startSample({ JWKS_URL: down.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    try {
      expect(await outcome(other.url, await signWith(keys.rs as SigningKey, CLAIMS))).toBe('SERVICE_UNAVAILABLE');
      const mod = await signWith(keys.rs as SigningKey, { ...CLAIMS, sub: 'mod', perms: ['moderation:read'] });
      const presence = await fetch(`${other.url}/moderation/presence`, { headers: { authorization: `Bearer ${mod}` } });
      expect(presence.status).toBe(503);
      // The SSE route and its ticket route the same (a token that could not be checked is not the caller's fault).
      const stream = await fetch(`${other.url}/chat/notifications`, { headers: { authorization: `Bearer ${mod}` } });
      expect(stream.status).toBe(503);
      expect(await stream.json()).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
      const ticket = await fetch(`${other.url}/chat/stream-ticket`, { method: 'POST', headers: { authorization: `Bearer ${mod}` } });
      expect(ticket.status).toBe(503);
    } finally {
      await other.app.close();
      await down.close();
    }
  });
});

describe('sample: JWT_ISSUER and JWT_AUDIENCE with JWT_SECRET', () => {
  let sample: { app: INestApplication; url: string };
  beforeAll(async () => { sample = await startSample({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE }); });
  afterEach(() => closeAllClients());
  afterAll(async () => { await sample?.app.close(); });

  it('requires iss and aud on HS256 tokens', async () => {
    expect(await outcome(sample.url, signToken(CLAIMS, { secret: SECRET }))).toBe('ok');
    const { iss: _iss, ...noIss } = CLAIMS;
    const { aud: _aud, ...noAud } = CLAIMS;
    expect(await outcome(sample.url, signToken(noIss, { secret: SECRET }))).toBe('UNAUTHORIZED');
    expect(await outcome(sample.url, signToken(noAud, { secret: SECRET }))).toBe('UNAUTHORIZED');
  });

  it('the demo login signs its cookie with them, so the page still connects', async () => {
    const login = await fetch(`${sample.url}/demo/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: PAGE_ORIGIN }, body: '{"userId":"alice"}' });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const socket = await connected(sample.url, '/chat', { transports: ['websocket'], extraHeaders: { cookie, origin: PAGE_ORIGIN } });
    expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
  });
});
