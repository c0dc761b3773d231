/**
 * Cost per handshake of token verification in `JwtAuthenticator`, key cached: one static key
 * through `@nestjs/jwt` (HS256, RS256; synchronous) against a JWKS key set through `jose`
 * (RS256, ES256, EdDSA; async WebCrypto), in one process, rounds interleaved.
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/jwt-verify.bench.js
 *
 * Prints µs per verify (median of rounds). No assertion: a measurement.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { JwtAuthenticator } from '../lib/auth/jwt.authenticator.js';
import { resolveOptions } from '../lib/module/options.validator.js';
import type { JwtVerificationOptions } from '../lib/interfaces/realtime-security-options.interface.js';

const SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';

interface Case {
  name: string;
  authenticator: JwtAuthenticator;
  token: string;
}

function authenticator(jwt: JwtVerificationOptions): JwtAuthenticator {
  const resolved = resolveOptions({ jwt, logSecurityEvents: false }).jwt;
  if (resolved === null) throw new Error('no jwt options');
  return new JwtAuthenticator(resolved);
}

async function sign(alg: string, key: KeyObject | Uint8Array, kid?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'alice', tenant: 'acme', perms: ['channel:*'], iat: now, exp: now + 3600 })
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid !== undefined ? { kid } : {}) })
    .sign(key);
}

async function cases(): Promise<Case[]> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const keys = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rs', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'es', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(ed.publicKey)), kid: 'ed', alg: 'EdDSA', use: 'sig' },
    ],
  };
  const jwks = authenticator({ jwks: () => keys, algorithms: ['RS256', 'ES256', 'EdDSA'] });
  return [
    { name: 'HS256, static secret (@nestjs/jwt)', authenticator: authenticator({ secret: SECRET }), token: await sign('HS256', new TextEncoder().encode(SECRET)) },
    { name: 'RS256, static public key (@nestjs/jwt)', authenticator: authenticator({ publicKey: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string, algorithms: ['RS256'] }), token: await sign('RS256', rsa.privateKey) },
    { name: 'RS256, JWKS by kid (jose)', authenticator: jwks, token: await sign('RS256', rsa.privateKey, 'rs') },
    { name: 'ES256, JWKS by kid (jose)', authenticator: jwks, token: await sign('ES256', ec.privateKey, 'es') },
    { name: 'EdDSA, JWKS by kid (jose)', authenticator: jwks, token: await sign('EdDSA', ed.privateKey, 'ed') },
  ];
}

async function perVerify(c: Case, calls: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await c.authenticator.verify(c.token);
  return Number(process.hrtime.bigint() - start) / 1000 / calls;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function main(): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 9);
  const calls = Number(process.env.CALLS ?? 500);
  const all = await cases();
  console.log(`node ${process.version}, ${rounds} rounds x ${calls} verifies per case (median of rounds), key cached`);
  for (const c of all) await perVerify(c, calls); // warm-up, and the key set's first fetch and key imports
  const results = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const c of all) results.set(c.name, [...(results.get(c.name) ?? []), await perVerify(c, calls)]);
  }
  for (const c of all) console.log(c.name.padEnd(42), `${median(results.get(c.name) ?? []).toFixed(1)} µs`.padStart(12));
  for (const c of all) c.authenticator.onModuleDestroy();
}

void main();
