import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { SecureIoAdapter } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connect, TRANSPORTS } from '../support/clients.js';

/**
 * The sample's web page routes and its demo-only login: what the browser suite (test/browser)
 * relies on, checked at the HTTP level, including what a browser cannot show (cookie attributes,
 * `Secure` over HTTPS, refusals of foreign origins and forms, DEMO_LOGIN=off).
 */

const SECRET = 'sample-web-spec-secret-0123456789-abcdefghijkl';
const PAGE_ORIGIN = 'http://app.example.test';
const TLS = {
  key: readFileSync(new URL('../fixtures/tls/localhost-test.key', import.meta.url)),
  cert: readFileSync(new URL('../fixtures/tls/localhost-test.crt', import.meta.url)),
};

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Sample {
  app: INestApplication;
  url: string;
}

async function startSample(env: Record<string, string> = {}, https = false): Promise<Sample> {
  const config = loadSampleConfig({ PORT: '0', JWT_SECRET: SECRET, ALLOWED_ORIGINS: PAGE_ORIGIN, ...env });
  const app = await NestFactory.create(AppModule.register(config), { logger: false, ...(https ? { httpsOptions: TLS } : {}) });
  app.useWebSocketAdapter(new SecureIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `${https ? 'https' : 'http'}://127.0.0.1:${port}` };
}

function call(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };
const login = (url: string, userId: string, headers: Record<string, string> = json) => call('POST', `${url}/demo/login`, headers, JSON.stringify({ userId }));

function sessionCookie(reply: Reply): string {
  const header = reply.headers['set-cookie']?.[0] ?? '';
  return header.split(';')[0] as string;
}

describe('sample: web page and demo login', () => {
  let sample: Sample;
  beforeAll(async () => { sample = await startSample(); });
  afterEach(() => closeAllClients());
  afterAll(async () => { await sample.app.close(); });

  it('serves the page with a strict CSP, its script and the Socket.IO browser client', async () => {
    const page = await call('GET', `${sample.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain('<script type="module" src="/app.js"></script>');

    const script = await call('GET', `${sample.url}/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.body).toContain("from '/socket.io/socket.io.esm.min.js'");
    expect(script.body).not.toContain('innerHTML');

    const client = await call('GET', `${sample.url}/socket.io/socket.io.esm.min.js`);
    expect(client.status).toBe(200);
    expect(client.body).toContain('export{');
    expect((await call('GET', `${sample.url}/styles.css`)).headers['content-type']).toMatch(/^text\/css/);
  });

  it('serves nothing else from the disk', async () => {
    for (const path of ['/index.html', '/public/app.js', '/..%2f..%2fpackage.json', '/web.controller.js', '/%2e%2e/%2e%2e/package.json']) {
      expect((await call('GET', sample.url + path)).status).toBe(404);
    }
  });

  it('logs in with an HttpOnly, SameSite=Lax cookie, never Secure over plain HTTP, and no token in the body', async () => {
    const reply = await login(sample.url, 'alice');
    expect(reply.status).toBe(200);
    const setCookie = reply.headers['set-cookie']?.[0] ?? '';
    expect(setCookie).toMatch(/^rt_session=[\w-]+\.[\w-]+\.[\w-]+; /);
    expect(setCookie).toContain('; HttpOnly');
    expect(setCookie).toContain('; SameSite=Lax');
    expect(setCookie).toContain('; Path=/');
    expect(setCookie).not.toContain('Secure');
    expect(reply.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(reply.body) as { user: { userId: string; tenant: string }; apiToken?: string };
    expect(body.user).toMatchObject({ userId: 'alice', tenant: 'acme' });
    expect(body.apiToken).toBeUndefined();
    expect(reply.body).not.toContain(sessionCookie(reply).slice('rt_session='.length));
  });

  it('gives a moderator a bearer token carrying only the moderation permissions', async () => {
    const body = JSON.parse((await login(sample.url, 'mod')).body) as { apiToken: string };
    const claims = new JwtService().verify<{ sub: string; tenant: string; perms: string[] }>(body.apiToken, { secret: SECRET, algorithms: ['HS256'] });
    expect(claims).toMatchObject({ sub: 'mod', tenant: 'acme', perms: ['moderation:*'] });
  });

  it('refuses a foreign Origin, a form post and an unknown user, without setting a cookie', async () => {
    const refusals = [
      [await login(sample.url, 'alice', { ...json, origin: 'http://evil.example.test' }), 403],
      [await login(sample.url, 'alice', { ...json, origin: 'null' }), 403],
      [await call('POST', `${sample.url}/demo/login`, { 'content-type': 'application/x-www-form-urlencoded' }, 'userId=alice'), 415],
      [await call('POST', `${sample.url}/demo/login`, { 'content-type': 'text/plain' }, '{"userId":"alice"}'), 415],
      [await login(sample.url, 'mallory'), 400],
      [await login(sample.url, '__proto__'), 400],
    ] as const;
    for (const [reply, status] of refusals) {
      expect(reply.status).toBe(status);
      expect(reply.headers['set-cookie']).toBeUndefined();
      expect(reply.body).not.toContain('mallory');
    }
    expect((await login(sample.url, 'alice', { ...json, origin: PAGE_ORIGIN })).status).toBe(200);
  });

  it('reports the session behind a cookie, and logs out by expiring it', async () => {
    const cookie = sessionCookie(await login(sample.url, 'bob'));
    const session = await call('GET', `${sample.url}/demo/session`, { cookie });
    expect(session.status).toBe(200);
    expect(JSON.parse(session.body)).toMatchObject({ user: { userId: 'bob', tenant: 'acme' } });
    expect((await call('GET', `${sample.url}/demo/session`)).status).toBe(401);
    expect((await call('GET', `${sample.url}/demo/session`, { cookie: `${cookie}x` })).status).toBe(401);
    const logout = await call('POST', `${sample.url}/demo/logout`, { ...json, cookie }, '{}');
    expect(logout.status).toBe(204);
    expect(logout.headers['set-cookie']?.[0]).toMatch(/^rt_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax/);
  });

  it.each(TRANSPORTS)('the login cookie opens /chat from the page\'s origin only, over %s', async (transport) => {
    const cookie = sessionCookie(await login(sample.url, 'alice'));
    const ok = await connect(sample.url, '/chat', { transports: [transport], extraHeaders: { cookie, origin: PAGE_ORIGIN } });
    expect(ok.connected).toBe(true);
    const foreign = await connect(sample.url, '/chat', { transports: [transport], extraHeaders: { cookie, origin: 'http://evil.example.test' } });
    expect(foreign.connected).toBe(false);
  });
});

describe('sample: demo login switched off and HTTPS', () => {
  it('DEMO_LOGIN=off removes every demo route; the page stays', async () => {
    const sample = await startSample({ DEMO_LOGIN: 'off' });
    try {
      expect((await login(sample.url, 'alice')).status).toBe(404);
      expect((await call('GET', `${sample.url}/demo/users`)).status).toBe(404);
      expect((await call('GET', `${sample.url}/demo/session`)).status).toBe(404);
      expect((await call('GET', `${sample.url}/`)).status).toBe(200);
    } finally {
      await sample.app.close();
    }
  });

  it('refuses a DEMO_LOGIN value that is neither on nor off', () => {
    expect(() => loadSampleConfig({ DEMO_LOGIN: 'maybe' })).toThrow('DEMO_LOGIN must be "on" or "off"');
  });

  it('marks the cookie Secure when the page is served over HTTPS', async () => {
    const sample = await startSample({}, true);
    try {
      const reply = await login(sample.url, 'alice');
      expect(reply.status).toBe(200);
      expect(reply.headers['set-cookie']?.[0]).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    } finally {
      await sample.app.close();
    }
  });
});
