import { AUDIT_TRANSPORTS } from '../audit-options.interface.js';
import type { AuditCheck } from '../audit-check.interface.js';
import type { AuditCheckResult } from '../audit-report.interface.js';

/** Look-alike Origins built from the allowed one. */
export function hostileOrigins(allowedOrigin: string): ReadonlyArray<{ id: string; origin: string; what: string }> {
  const allowed = new URL(allowedOrigin);
  const port = allowed.port !== '' ? `:${allowed.port}` : '';
  return [
    { id: 'origin.foreign', origin: 'https://audit-attacker.example', what: 'a foreign Origin' },
    { id: 'origin.null', origin: 'null', what: 'the Origin "null" (sandboxed iframes, file: pages)' },
    { id: 'origin.suffix-trick', origin: `${allowed.protocol}//attacker${allowed.hostname}${port}`, what: 'an Origin that ends with the allowed host' },
    { id: 'origin.prefix-trick', origin: `${allowed.protocol}//${allowed.hostname}.attacker.example${port}`, what: 'an Origin that starts with the allowed host' },
  ];
}

/**
 * Cross-site WebSocket hijacking: a cookie-authenticated handshake must be accepted from the
 * allowed Origin (control) and refused from a foreign, `null`, suffix or prefix look-alike one,
 * on both transports. Browsers send cookies with WebSocket handshakes and apply no CORS to them.
 */
export const originCheck: AuditCheck = {
  id: 'origin',
  async run(ctx) {
    const results: AuditCheckResult[] = [];
    const { cookieName, token, allowedOrigin } = ctx.options;
    const nsp = ctx.primaryNamespace;
    if (cookieName === undefined || token === undefined) {
      const why = cookieName === undefined ? 'no --cookie-name given: cookie authentication not probed' : 'no --token given';
      return [ctx.result('origin.cookie-matrix', nsp, 'N/A', why)];
    }
    const cookie = `${cookieName}=${token}`;
    for (const transport of AUDIT_TRANSPORTS) {
      const target = `${nsp} ${transport}`;
      const control = await ctx.probes.connectRetrying({ nsp, transport, headers: { Cookie: cookie, Origin: allowedOrigin } });
      if (control.socket !== undefined) ctx.probes.close(control.socket);
      results.push(control.connected
        ? ctx.result('origin.allowed', target, 'PASS', `cookie accepted from the allowed Origin ${allowedOrigin} (control)`)
        : ctx.result('origin.allowed', target, 'FAIL', `cookie refused from the allowed Origin ${allowedOrigin}: ${control.description}. Check --cookie-name/--allowed-origin; the matrix proves nothing until this passes`));
      for (const hostile of hostileOrigins(allowedOrigin)) {
        if (!control.connected) {
          results.push(ctx.result(hostile.id, target, 'N/A', 'the control (allowed Origin) failed'));
          continue;
        }
        const outcome = await ctx.probes.connect({ nsp, transport, headers: { Cookie: cookie, Origin: hostile.origin } });
        if (outcome.socket !== undefined) ctx.probes.close(outcome.socket);
        results.push(outcome.connected
          ? ctx.result(hostile.id, target, 'FAIL', `cookie accepted from ${hostile.what}: Origin ${hostile.origin}; cross-site WebSocket hijacking is possible`)
          : ctx.result(hostile.id, target, 'PASS', `refused from Origin ${hostile.origin}: ${outcome.description}`));
      }
    }
    return results;
  },
};
