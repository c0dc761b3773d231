import { randomUUID } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { JwtAuthenticator, RealtimeAuthenticator, type RealtimeSecurityOptions } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { closeAllClients, connect, connected, TRANSPORTS, type Transport } from '../support/clients.js';
import { JwksServer, signingKey, signWith, type SigningKey } from '../support/jwks.js';
import { Probe, probeGateway } from '../support/probe.gateway.js';
import { waitFor } from '../support/wait.js';

/**
 * `jwt.jwks`: tokens of an identity provider that publishes its keys at a JWKS URL and rotates
 * them by `kid`, against a real local JWKS server (THREATS_MODEL cases 64 and 65).
 */

const ISSUER = 'https://idp.test/realms/acme';
const AUDIENCE = 'realtime-api';
const GOOD = { iss: ISSUER, aud: AUDIENCE };

interface JwksApp {
  app: TestApp;
  probe: Probe;
  logger: CapturingLogger;
  authenticator: JwtAuthenticator;
}

async function startJwksApp(jwt: NonNullable<RealtimeSecurityOptions['jwt']>, extra: Partial<RealtimeSecurityOptions> = {}): Promise<JwksApp> {
  const probe = new Probe();
  const logger = new CapturingLogger();
  const app = await startApp({
    gateways: [probeGateway('/chat')],
    providers: [{ provide: Probe, useValue: probe }],
    logger,
    security: { jwt, rateLimit: { handshakesPerAddress: 0 }, ...extra },
  });
  return { app, probe, logger, authenticator: app.app.get<JwtAuthenticator>(RealtimeAuthenticator) };
}

/** `ok` for an accepted handshake (the socket is closed again), else the refusal code. */
async function handshake(url: string, token: string, transport: Transport = 'websocket'): Promise<string> {
  const outcome = await connect(url, '/chat', { transports: [transport], auth: { token } });
  outcome.socket.disconnect();
  return outcome.connected ? 'ok' : String(outcome.error?.data?.code ?? outcome.error?.message);
}

/** Tallies outcomes: `{ ok: 12, UNAUTHORIZED: 1 }`. */
function tally(outcomes: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

describe('jwt.jwks: rotation at the identity provider', () => {
  let jwks: JwksServer;
  let t: JwksApp;
  let keyA: SigningKey;
  let keyB: SigningKey;

  beforeAll(async () => {
    [keyA, keyB] = await Promise.all([signingKey('key-a', 'RS256'), signingKey('key-b', 'RS256')]);
    jwks = await new JwksServer().start();
    jwks.publish(keyA);
    t = await startJwksApp({ jwks: jwks.url, issuer: [ISSUER], audience: [AUDIENCE], jwksRefresh: { intervalMs: 1000, cooldownMs: 300, timeoutMs: 2000 } });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await t?.app.close();
    await jwks?.close();
  });

  it('a steady handshake stream sees zero refusals through A → A+B → B (both transports)', async () => {
    let signer = keyA;
    let running = true;
    const outcomes: string[] = [];
    const perPhase = new Map<string, number>();
    let phase = 'A';
    // Four clients in a loop, each connecting and disconnecting with a token of the current signing key.
    const stream = Promise.all([0, 1, 2, 3].map(async (lane) => {
      let n = 0;
      while (running) {
        const transport = TRANSPORTS[(lane + n++) % 2] as Transport;
        const token = await signWith(signer, GOOD);
        const outcome = await handshake(t.app.url, token, transport);
        outcomes.push(outcome);
        perPhase.set(phase, (perPhase.get(phase) ?? 0) + 1);
      }
    }));
    const handshakesFor = async (name: string, count: number) => {
      phase = name;
      await waitFor(`${count} handshakes in phase ${name}`, () => (perPhase.get(name) ?? 0) >= count, 20_000);
    };
    await handshakesFor('A', 20);
    // The provider publishes B beside A, then signs with B at once (before any refresh of ours).
    jwks.publish(keyA, keyB);
    await handshakesFor('A+B published', 10);
    signer = keyB;
    await handshakesFor('signing with B', 20);
    // A is dropped; B stays.
    jwks.publish(keyB);
    const fetched = jwks.requests;
    await waitFor('a background refresh after A was dropped', () => jwks.requests > fetched + 1, 10_000);
    await handshakesFor('B only', 20);
    running = false;
    await stream;
    expect(tally(outcomes)).toEqual({ ok: outcomes.length });
    expect(outcomes.length).toBeGreaterThanOrEqual(70);
  });

  it('auth:refresh accepts a token of the rotated key; a token of the dropped key is refused', async () => {
    jwks.publish(keyA);
    await waitFor('key A published again and fetched', async () => (await handshake(t.app.url, await signWith(keyA, GOOD))) === 'ok', 10_000);
    const socket = await connected(t.app.url, '/chat', { transports: ['websocket'], auth: { token: await signWith(keyA, GOOD) } });
    jwks.publish(keyA, keyB);
    // Signed by B, which our set may not hold yet: the unknown kid fetches it.
    const renewed = await signWith(keyB, GOOD, {}, 7200);
    await expect(socket.emitWithAck('auth:refresh', { token: renewed })).resolves.toMatchObject({ ok: true });
    jwks.publish(keyB);
    const fetched = jwks.requests;
    await waitFor('a refresh without A', () => jwks.requests > fetched + 1, 10_000);
    const old = await signWith(keyA, GOOD, {}, 7200);
    await expect(socket.emitWithAck('auth:refresh', { token: old })).resolves.toEqual({ error: expect.objectContaining({ code: 'UNAUTHORIZED' }) });
    await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'alice' });
    expect(await handshake(t.app.url, await signWith(keyA, GOOD))).toBe('UNAUTHORIZED');
    expect(await handshake(t.app.url, await signWith(keyB, GOOD))).toBe('ok');
  });
});

describe('jwt.jwks: a storm of unknown kids', () => {
  const COOLDOWN_MS = 500;
  let jwks: JwksServer;
  let t: JwksApp;
  let keyA: SigningKey;
  let stranger: SigningKey;

  beforeAll(async () => {
    [keyA, stranger] = await Promise.all([signingKey('key-a', 'ES256'), signingKey('unused', 'ES256')]);
    jwks = await new JwksServer().start();
    jwks.publish(keyA);
    t = await startJwksApp({ jwks: jwks.url, algorithms: ['ES256'], jwksRefresh: { intervalMs: 3_600_000, cooldownMs: COOLDOWN_MS, timeoutMs: 2000 } });
    await waitFor('the first fetch', () => t.authenticator.keySetStats()?.loadedAt !== null);
  });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await t?.app.close();
    await jwks?.close();
  });

  it('1,000 handshakes with random kids cost at most one fetch per cooldown; a known kid is served meanwhile', async () => {
    const before = jwks.requests;
    const started = Date.now();
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => signWith(stranger, {}, { kid: randomUUID() })));
    const outcomes: string[] = [];
    let next = 0;
    let control: Promise<string> | undefined;
    // Each refused handshake waits for the next fetch (up to a cooldown): 100 at a time.
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next < tokens.length) {
        const i = next++;
        if (i === 500) control = handshake(t.app.url, await signWith(keyA));
        outcomes.push(await handshake(t.app.url, tokens[i] as string));
      }
    }));
    const elapsed = Date.now() - started;
    const fetches = jwks.requests - before;
    expect(tally(outcomes)).toEqual({ UNAUTHORIZED: 1000 });
    expect(await control).toBe('ok');
    expect(fetches).toBeGreaterThanOrEqual(1);
    expect(fetches).toBeLessThanOrEqual(Math.ceil(elapsed / COOLDOWN_MS) + 1);
    expect(t.probe.connections.length).toBe(1);
  }, 120_000);

  it('a key published during a storm is found by the next fetch: its token waits for it, not refused', async () => {
    const keyC = await signingKey('key-c', 'ES256');
    const storm = Promise.all(Array.from({ length: 50 }, async () => handshake(t.app.url, await signWith(stranger, {}, { kid: randomUUID() }))));
    jwks.publish(keyA, keyC);
    const outcome = handshake(t.app.url, await signWith(keyC));
    expect(tally(await storm)).toEqual({ UNAUTHORIZED: 50 });
    expect(await outcome).toBe('ok');
  });
});

describe('jwt.jwks: the endpoint fails', () => {
  let jwks: JwksServer;
  let keyA: SigningKey;
  const apps: JwksApp[] = [];
  const refresh = { intervalMs: 1000, cooldownMs: 300, timeoutMs: 500 };

  beforeAll(async () => {
    keyA = await signingKey('key-a', 'RS256');
  });
  beforeEach(async () => {
    jwks = await new JwksServer().start();
    jwks.publish(keyA);
  });
  afterEach(async () => {
    closeAllClients();
    for (const a of apps.splice(0)) await a.app.close();
    await jwks.close();
  });

  it.each([['HTTP 503', 'error'], ['a body that is not a key set', 'garbage']] as const)(
    'down at start (%s): SERVICE_UNAVAILABLE, at most one fetch per cooldown, then served once it is back',
    async (_name, mode) => {
      jwks.setMode(mode);
      const t = await startJwksApp({ jwks: jwks.url, jwksRefresh: refresh });
      apps.push(t);
      const token = await signWith(keyA);
      const started = Date.now();
      const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => handshake(t.app.url, token, TRANSPORTS[i % 2] as Transport)));
      expect(tally(outcomes)).toEqual({ SERVICE_UNAVAILABLE: 40 });
      expect(jwks.requests).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / refresh.cooldownMs) + 2);
      expect(t.probe.connections).toEqual([]);
      jwks.setMode('ok');
      await waitFor('a handshake accepted once the JWKS is back', async () => (await handshake(t.app.url, token)) === 'ok', 10_000);
      const lines = t.logger.text();
      expect(lines).toContain('no key set yet');
      expect(lines).not.toContain(token);
    },
  );

  it('down mid-run: the last good set keeps serving known kids; an unknown kid is UNAUTHORIZED', async () => {
    const t = await startJwksApp({ jwks: jwks.url, jwksRefresh: refresh });
    apps.push(t);
    expect(await handshake(t.app.url, await signWith(keyA))).toBe('ok');
    jwks.setMode('error');
    const failed = t.authenticator.keySetStats()?.failures ?? 0;
    await waitFor('two failed background refreshes', () => (t.authenticator.keySetStats()?.failures ?? 0) >= failed + 2, 10_000);
    const outcomes = await Promise.all(TRANSPORTS.map(async (transport) => handshake(t.app.url, await signWith(keyA), transport)));
    expect(outcomes).toEqual(['ok', 'ok']);
    const stranger = await signingKey('key-x', 'RS256');
    expect(await handshake(t.app.url, await signWith(stranger))).toBe('UNAUTHORIZED');
    // Closed outright: the same.
    await jwks.close();
    const closedFailures = t.authenticator.keySetStats()?.failures ?? 0;
    await waitFor('a failed refresh on a closed port', () => (t.authenticator.keySetStats()?.failures ?? 0) > closedFailures, 10_000);
    expect(await handshake(t.app.url, await signWith(keyA))).toBe('ok');
    jwks = await new JwksServer().start();
  });

  it('slow (no answer within timeoutMs): refused with SERVICE_UNAVAILABLE at start, the last good set kept later', async () => {
    jwks.setMode('slow');
    const t = await startJwksApp({ jwks: jwks.url, jwksRefresh: refresh });
    apps.push(t);
    // The endpoint never answers: a coded refusal (not the client's own 5 s timeout) shows the fetch timed out.
    expect(await handshake(t.app.url, await signWith(keyA))).toBe('SERVICE_UNAVAILABLE');
    jwks.setMode('ok');
    await waitFor('served once the JWKS answers', async () => (await handshake(t.app.url, await signWith(keyA))) === 'ok', 10_000);
    jwks.setMode('slow');
    const failed = t.authenticator.keySetStats()?.failures ?? 0;
    await waitFor('a timed-out background refresh', () => (t.authenticator.keySetStats()?.failures ?? 0) > failed, 10_000);
    expect(await handshake(t.app.url, await signWith(keyA))).toBe('ok');
    expect(t.logger.text()).toContain('timed out');
  });

  it('a refresh hanging on a slow endpoint delays no handshake whose key is cached', async () => {
    const t = await startJwksApp({ jwks: jwks.url, jwksRefresh: { intervalMs: 1000, cooldownMs: 300, timeoutMs: 9000 } });
    apps.push(t);
    expect(await handshake(t.app.url, await signWith(keyA))).toBe('ok');
    jwks.setMode('slow');
    await waitFor('a background refresh held by the endpoint', () => jwks.heldRequests === 1, 10_000);
    const outcomes = await Promise.all(Array.from({ length: 10 }, async (_, i) => handshake(t.app.url, await signWith(keyA), TRANSPORTS[i % 2] as Transport)));
    expect(outcomes).toEqual(Array.from({ length: 10 }, () => 'ok'));
    // Still the same request, still unanswered: the handshakes did not wait for it.
    expect(jwks.heldRequests).toBe(1);
    expect(t.authenticator.keySetStats()?.failures).toBe(0);
  });

  it('a loader function: its set is used; a loader that throws keeps the last good set', async () => {
    const keyB = await signingKey('key-b', 'EdDSA');
    let current: unknown = { keys: [keyA.jwk] };
    let calls = 0;
    const t = await startJwksApp({
      jwks: () => {
        calls += 1;
        if (current instanceof Error) throw current;
        return current as { keys: [] };
      },
      algorithms: ['RS256', 'EdDSA'],
      jwksRefresh: refresh,
    });
    apps.push(t);
    expect(await handshake(t.app.url, await signWith(keyA))).toBe('ok');
    current = { keys: [keyA.jwk, keyB.jwk] };
    expect(await handshake(t.app.url, await signWith(keyB))).toBe('ok');
    current = new Error('vault sealed');
    const before = calls;
    await waitFor('a failing loader call', () => calls > before + 1, 10_000);
    expect(await handshake(t.app.url, await signWith(keyB))).toBe('ok');
    expect(t.logger.text()).toContain('vault sealed');
  });
});

describe('jwt.jwks: what a key set must not accept', () => {
  let jwks: JwksServer;
  let t: JwksApp;
  const keys: Record<string, SigningKey> = {};

  beforeAll(async () => {
    keys.rs = await signingKey('rs', 'RS256');
    keys.ps = await signingKey('ps', 'PS256');
    keys.es = await signingKey('es', 'ES256');
    keys.ed = await signingKey('ed', 'EdDSA');
    keys.enc = await signingKey('enc', 'RS256', { use: 'enc' });
    keys.rs512 = await signingKey('rs512', 'RS256', { alg: 'RS512' });
    keys.noVerify = await signingKey('no-verify', 'RS256', { key_ops: ['encrypt'] });
    keys.removed = await signingKey('removed', 'RS256');
    jwks = await new JwksServer().start();
    jwks.publish(...Object.values(keys));
    t = await startJwksApp({
      jwks: jwks.url,
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      issuer: [ISSUER],
      audience: [AUDIENCE],
      jwksRefresh: { intervalMs: 3_600_000, cooldownMs: 200, timeoutMs: 2000 },
    });
    // Fetched with `removed`; then the provider drops it (a later unknown kid fetches the set without it).
    expect(await handshake(t.app.url, await signWith(keys.removed as SigningKey, GOOD))).toBe('ok');
    const { removed: _removed, ...kept } = keys;
    jwks.publish(...Object.values(kept));
    // A kid nobody published makes the set be fetched again, now without `removed`.
    const fetched = jwks.requests;
    expect(await handshake(t.app.url, await signWith(await signingKey('nobody', 'RS256'), GOOD))).toBe('UNAUTHORIZED');
    expect(jwks.requests).toBeGreaterThan(fetched);
  });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await t?.app.close();
    await jwks?.close();
  });

  it.each(TRANSPORTS)('accepts RS256, PS256, ES256 and EdDSA tokens of published keys (%s)', async (transport) => {
    for (const name of ['rs', 'ps', 'es', 'ed']) {
      const socket = await connected(t.app.url, '/chat', { transports: [transport], auth: { token: await signWith(keys[name] as SigningKey, GOOD) } });
      await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'alice' });
      socket.disconnect();
    }
  });

  const refusals: Array<[string, () => Promise<string>]> = [
    ["a key published with use 'enc'", () => signWith(keys.enc as SigningKey, GOOD)],
    ['a key published for RS512, token RS256', () => signWith(keys.rs512 as SigningKey, GOOD)],
    ["a key whose key_ops lack 'verify'", () => signWith(keys.noVerify as SigningKey, GOOD)],
    ['an RSA kid with an ES256 header (key of the wrong type)', () => signWith(keys.es as SigningKey, GOOD, { kid: 'rs' })],
    ['an EdDSA kid with a PS256 header', () => signWith(keys.ps as SigningKey, GOOD, { kid: 'ed' })],
    ['a wrong iss', () => signWith(keys.rs as SigningKey, { ...GOOD, iss: 'https://evil.test' })],
    ['no iss', () => signWith(keys.rs as SigningKey, { aud: AUDIENCE })],
    ['a wrong aud', () => signWith(keys.rs as SigningKey, { ...GOOD, aud: 'another-api' })],
    ['a key removed from the set', () => signWith(keys.removed as SigningKey, GOOD)],
    ['a kid that was never published', async () => signWith(await signingKey('ghost', 'RS256'), GOOD)],
    ['a published kid, signed by another key', async () => signWith(await signingKey('rs', 'RS256'), GOOD)],
    ['no kid, signed by an unpublished key', async () => signWith(await signingKey('x', 'RS256'), GOOD, { kid: undefined })],
    ['HS256 signed with the RSA JWK bytes as secret', async () => {
      const { createHmac } = await import('node:crypto');
      const head = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'rs' })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ sub: 'alice', tenant: 'acme', exp: Math.floor(Date.now() / 1000) + 60, ...GOOD })).toString('base64url');
      return `${head}.${body}.${createHmac('sha256', JSON.stringify((keys.rs as SigningKey).jwk)).update(`${head}.${body}`).digest('base64url')}`;
    }],
    ["alg 'none'", async () => {
      const head = Buffer.from(JSON.stringify({ alg: 'none', kid: 'rs' })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ sub: 'alice', tenant: 'acme', exp: Math.floor(Date.now() / 1000) + 60, ...GOOD })).toString('base64url');
      return `${head}.${body}.`;
    }],
  ];

  it.each(refusals)('refuses %s with UNAUTHORIZED; nothing reaches the app', async (_name, make) => {
    t.probe.reset();
    expect(await handshake(t.app.url, await make())).toBe('UNAUTHORIZED');
    expect(t.probe.connections).toEqual([]);
  });

  it('refuses an expired token of a published key with TOKEN_EXPIRED', async () => {
    expect(await handshake(t.app.url, await signWith(keys.ed as SigningKey, GOOD, {}, -60))).toBe('TOKEN_EXPIRED');
  });

  it('two keys under one kid: the one that verifies wins', async () => {
    const twin = await signingKey('rs', 'RS256');
    jwks.publish(...Object.values(keys).filter((k) => k.kid !== 'removed'), twin);
    // A kid nobody published makes the set be fetched again (with the twin).
    const fetched = jwks.requests;
    expect(await handshake(t.app.url, await signWith(await signingKey('nobody', 'RS256'), GOOD))).toBe('UNAUTHORIZED');
    expect(jwks.requests).toBeGreaterThan(fetched);
    expect(await handshake(t.app.url, await signWith(twin, GOOD))).toBe('ok');
    expect(await handshake(t.app.url, await signWith(keys.rs as SigningKey, GOOD))).toBe('ok');
  });
});

describe('jwt.publicKey with EdDSA (a static Ed25519 key, no key set)', () => {
  let t: JwksApp;
  const pair = generateKeyPairSync('ed25519');
  const key: SigningKey = { kid: 'static', alg: 'EdDSA', privateKey: pair.privateKey, jwk: {} };

  beforeAll(async () => {
    t = await startJwksApp({ publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string, algorithms: ['EdDSA'] });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await t?.app.close();
  });

  it('accepts its tokens and refuses another key\'s', async () => {
    expect(await handshake(t.app.url, await signWith(key))).toBe('ok');
    const other = generateKeyPairSync('ed25519');
    expect(await handshake(t.app.url, await signWith({ ...key, privateKey: other.privateKey }))).toBe('UNAUTHORIZED');
    expect(await handshake(t.app.url, await signWith(key, {}, {}, -60))).toBe('TOKEN_EXPIRED');
  });
});

