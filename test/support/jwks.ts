import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { exportJWK, SignJWT, type JWK } from 'jose';

/** A signing key of a test identity provider: its private half, and the public JWK it publishes. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256' | 'EdDSA' | 'PS256' | 'RS512';
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
}

/** A fresh key pair; `jwk` carries `kid`, `alg` and `use: 'sig'` unless `extra` overrides them. */
export async function signingKey(kid: string, alg: SigningKey['alg'] = 'RS256', extra: Partial<JWK> = {}): Promise<SigningKey> {
  const pair = alg === 'EdDSA' ? generateKeyPairSync('ed25519')
    : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig', ...extra };
  return { kid, alg, privateKey: pair.privateKey, jwk };
}

/** Signs a token with `key` (header `kid`/`alg` from the key unless overridden); claims of a normal test user. */
export async function signWith(
  key: SigningKey,
  claims: Record<string, unknown> = {},
  header: { kid?: string | undefined; alg?: string } = {},
  seconds = 3600,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const kid = 'kid' in header ? header.kid : key.kid;
  return new SignJWT({ sub: 'alice', tenant: 'acme', perms: ['channel:*'], iat: now, exp: now + seconds, ...claims })
    .setProtectedHeader({ alg: header.alg ?? key.alg, typ: 'JWT', ...(kid !== undefined ? { kid } : {}) })
    .sign(key.privateKey);
}

/**
 * How the test JWKS endpoint answers: `ok` the published keys; `error` HTTP 503; `slow` never
 * (the request is held until the mode changes or the server closes); `garbage` a 200 that is not a key set.
 */
export type JwksMode = 'ok' | 'error' | 'slow' | 'garbage';

/** A local JWKS endpoint on 127.0.0.1:0 that counts its requests. */
export class JwksServer {
  /** Requests received, every mode counted. */
  requests = 0;
  mode: JwksMode = 'ok';
  private keys: JWK[] = [];
  private readonly held = new Set<ServerResponse>();
  private readonly server: Server;
  private port = 0;

  constructor() {
    this.server = createServer((req, res) => this.answer(req, res));
  }

  /** Requests held unanswered in `slow` mode right now. */
  get heldRequests(): number {
    return this.held.size;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Publishes exactly these keys. */
  publish(...keys: SigningKey[]): void {
    this.keys = keys.map((k) => k.jwk);
  }

  /** Publishes raw JWKs (for malformed or odd keys). */
  publishJwks(jwks: JWK[]): void {
    this.keys = jwks;
  }

  setMode(mode: JwksMode): void {
    this.mode = mode;
    if (mode !== 'slow') this.releaseHeld();
  }

  async close(): Promise<void> {
    this.releaseHeld();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    this.requests += 1;
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    switch (this.mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: this.keys }));
        return;
      case 'error':
        res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"not":"a key set"}');
        return;
      case 'slow':
        this.held.add(res);
        res.on('close', () => this.held.delete(res));
        return;
    }
  }

  private releaseHeld(): void {
    for (const res of this.held) res.destroy();
    this.held.clear();
  }
}
