import { AUDIT_TRANSPORTS } from '../audit-options.interface.js';
import type { AuditCheck } from '../audit-check.interface.js';
import { AuditSeed, type AuditCheckResult } from '../audit-report.interface.js';
import type { ForgedTokens } from '../token-forgery.js';
import { refused } from './authentication.check.js';

const VARIANTS: ReadonlyArray<{ key: keyof ForgedTokens; id: string; what: string }> = [
  { key: 'algNone', id: 'auth.forged.alg-none', what: 'a token with alg "none" and no signature' },
  { key: 'badSignature', id: 'auth.forged.bad-signature', what: 'the token\'s claims under a random signature' },
  { key: 'tamperedClaims', id: 'auth.forged.tampered-claims', what: 'the token with its sub and permissions changed under the original signature' },
  { key: 'truncated', id: 'auth.forged.truncated', what: 'the token with half its signature cut off' },
  { key: 'expired', id: 'auth.forged.expired', what: 'the token\'s claims with exp an hour ago' },
];

/**
 * Forged variants of the given token, sent as `auth.token`: each must be refused. The audit
 * cannot sign, so "expired" carries a wrong signature too: a PASS shows it is refused, not that
 * `exp` alone is enforced (the project's own tests must prove that with the key).
 */
export const forgedTokenCheck: AuditCheck = {
  id: 'auth.forged',
  async run(ctx) {
    const results: AuditCheckResult[] = [];
    const nsp = ctx.primaryNamespace;
    for (const variant of VARIANTS) {
      for (const transport of AUDIT_TRANSPORTS) {
        const target = `${nsp} ${transport}`;
        if (ctx.forged === null) {
          const why = ctx.options.token === undefined ? 'no --token given' : 'the given token is not a JWT (header.claims.signature): nothing to forge from';
          results.push(ctx.result(variant.id, target, 'N/A', why, AuditSeed.WEBSOCKET_AUTH_REQUIRED));
          continue;
        }
        const result = await refused(ctx, variant.id, target, { nsp, transport, auth: { token: ctx.forged[variant.key] } }, `connected with ${variant.what}`);
        const note = variant.key === 'expired' && result.status === 'PASS'
          ? '; note: signed with a random key, so this cannot prove exp is checked on a validly signed token'
          : '';
        results.push(ctx.result(result.id, result.target, result.status, result.evidence + note, AuditSeed.WEBSOCKET_AUTH_REQUIRED));
      }
    }
    return results;
  },
};
