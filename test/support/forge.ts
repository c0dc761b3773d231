import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';

/** Base64url of a JSON value or a string. */
export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** Claims of a normal test token, `exp` `seconds` from now (may be negative). */
export function claims(extra: Record<string, unknown> = {}, seconds = 3600): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'alice', tenant: 'acme', perms: ['channel:*'], iat: now, exp: now + seconds, ...extra };
}

/** A JWT signed by hand, so header, payload and key can each be wrong on purpose. */
export function forgeToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: { hmac: string | Buffer } | { rsaPrivateKey: string } | { none: true },
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  if ('none' in key) return `${input}.`;
  if ('hmac' in key) {
    const bits = String(header.alg ?? 'HS256').slice(2);
    return `${input}.${createHmac(`sha${bits}`, key.hmac).update(input).digest('base64url')}`;
  }
  const signer = createSign(`RSA-SHA${String(header.alg ?? 'RS256').slice(2)}`);
  signer.update(input);
  return `${input}.${signer.sign(key.rsaPrivateKey).toString('base64url')}`;
}

/** A fresh RSA key pair in PEM. */
export function rsaKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}
