import { connect, connected, TRANSPORTS } from '../support/clients.js';
import { claims, forgeToken, rsaKeyPair } from '../support/forge.js';
import { useProbeApp } from '../support/probe-app.js';
import type { Probe } from '../support/probe.gateway.js';
import { TEST_SECRET } from '../support/tokens.js';

/** THREATS.md case 2: forged tokens are refused with one generic message and `UNAUTHORIZED`. */

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'realtime';
const HS = { alg: 'HS256', typ: 'JWT' };
const RS = { alg: 'RS256', typ: 'JWT' };
const keys = rsaKeyPair();
const otherKeys = rsaKeyPair();
const hmac = { hmac: TEST_SECRET };
const rsa = { rsaPrivateKey: keys.privateKey };

/** Claims a valid token of the HS app carries (issuer and audience configured). */
function good(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return claims({ iss: ISSUER, aud: AUDIENCE, ...extra });
}

function without(name: string): Record<string, unknown> {
  const c = good();
  delete c[name];
  return c;
}

function tamper(token: string, extra: Record<string, unknown>): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const payload = { ...(JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>), ...extra };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

const validHs = forgeToken(HS, good(), hmac);

const HS_FORGERIES: Array<[string, string]> = [
  ["alg 'none', no signature", forgeToken({ alg: 'none', typ: 'JWT' }, good(), { none: true })],
  ["alg 'none' with the real signature", `${forgeToken({ alg: 'none', typ: 'JWT' }, good(), { none: true })}${validHs.split('.')[2]}`],
  ["alg 'NONE'", forgeToken({ alg: 'NONE' }, good(), { none: true })],
  ['a wrong signature (other secret)', forgeToken(HS, good(), { hmac: 'another-secret-that-is-long-enough-0123456789' })],
  ['a tampered payload (sub changed)', tamper(validHs, { sub: 'mallory' })],
  ['a tampered payload (perms raised)', tamper(validHs, { perms: ['*:*'] })],
  ['an RS256 token while HS256 is pinned', forgeToken(RS, good(), rsa)],
  ['HS512 while HS256 is pinned', forgeToken({ alg: 'HS512' }, good(), hmac)],
  ['a wrong iss', forgeToken(HS, good({ iss: 'https://evil.test' }), hmac)],
  ['no iss', forgeToken(HS, without('iss'), hmac)],
  ['a wrong aud', forgeToken(HS, good({ aud: 'other' }), hmac)],
  ['no aud', forgeToken(HS, without('aud'), hmac)],
  ['a truncated signature', validHs.slice(0, -6)],
  ['no signature part', validHs.split('.').slice(0, 2).join('.')],
  ['the header alone', validHs.split('.')[0] as string],
  ['garbage in the payload', `${validHs.split('.')[0]}.!!!.${validHs.split('.')[2]}`],
  ['no sub', forgeToken(HS, without('sub'), hmac)],
  ['no tenant', forgeToken(HS, without('tenant'), hmac)],
  ['no exp', forgeToken(HS, without('exp'), hmac)],
  ['a string exp', forgeToken(HS, good({ exp: String(Math.floor(Date.now() / 1000) + 3600) }), hmac)],
  ['a numeric sub', forgeToken(HS, good({ sub: 42 }), hmac)],
  ['an empty tenant', forgeToken(HS, good({ tenant: '' }), hmac)],
  ['perms not an array', forgeToken(HS, good({ perms: 'channel:*' }), hmac)],
  ['a nbf in the future', forgeToken(HS, good({ nbf: Math.floor(Date.now() / 1000) + 600 }), hmac)],
  ['a JSON array payload', `${validHs.split('.')[0]}.${Buffer.from('[1,2]').toString('base64url')}.${validHs.split('.')[2]}`],
];

const RS_FORGERIES: Array<[string, string]> = [
  ['an HS256 token signed with the RSA public key as HMAC secret', forgeToken(HS, claims(), { hmac: keys.publicKey })],
  ['an HS256 token signed with the public key bytes (trimmed)', forgeToken(HS, claims(), { hmac: keys.publicKey.trim() })],
  ['an RS256 token signed by another key', forgeToken(RS, claims(), { rsaPrivateKey: otherKeys.privateKey })],
  ["alg 'none'", forgeToken({ alg: 'none' }, claims(), { none: true })],
  ['RS512 while RS256 is pinned', forgeToken({ alg: 'RS512' }, claims(), rsa)],
  ['a tampered payload', tamper(forgeToken(RS, claims(), rsa), { tenant: 'globex' })],
  ['a truncated signature', forgeToken(RS, claims(), rsa).slice(0, -10)],
];

async function expectRefused(url: string, transport: 'polling' | 'websocket', token: string, probe: Probe): Promise<void> {
  const outcome = await connect(url, '/chat', { transports: [transport], auth: { token } });
  expect(outcome.connected).toBe(false);
  expect(outcome.error?.message).toBe('Connection refused');
  expect(outcome.error?.data).toEqual({ code: 'UNAUTHORIZED' });
  expect(probe.connections).toEqual([]);
}

describe('handshake: forged tokens (HS256 pinned, iss and aud configured)', () => {
  const { t, probe } = useProbeApp({ security: { jwt: { secret: TEST_SECRET, algorithms: ['HS256'], issuer: [ISSUER], audience: [AUDIENCE] } } });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('accepts the genuine token (control)', async () => {
      const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: validHs } });
      await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'alice' });
    });

    it.each(HS_FORGERIES)('refuses %s', async (_name, token) => {
      await expectRefused(t.url, transport, token, probe);
    });
  });
});

describe('handshake: forged tokens (RS256 pinned)', () => {
  const { t, probe } = useProbeApp({ security: { jwt: { publicKey: keys.publicKey, algorithms: ['RS256'] } } });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('accepts a token signed by the private key (control)', async () => {
      const socket = await connected(t.url, '/chat', { transports: [transport], auth: { token: forgeToken(RS, claims(), rsa) } });
      await expect(socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true, userId: 'alice' });
    });

    it.each(RS_FORGERIES)('refuses %s', async (_name, token) => {
      await expectRefused(t.url, transport, token, probe);
    });
  });
});
