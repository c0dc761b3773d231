import { randomBytes } from 'node:crypto';
import { AUDIT_TRANSPORTS, type AuditTransport } from '../audit-options.interface.js';
import type { AuditCheck } from '../audit-check.interface.js';
import type { AuditContext } from '../audit-context.js';
import { AuditSeed, type AuditCheckResult } from '../audit-report.interface.js';
import type { ProbeRequest } from '../probe-client.js';

/**
 * Connections that must be refused: no credential (every given namespace, `/` and an undeclared
 * one), an empty token, and the token in the query string, over both transports.
 */
export const authenticationCheck: AuditCheck = {
  id: 'auth',
  async run(ctx) {
    const results: AuditCheckResult[] = [];
    const undeclared = `/audit-undeclared-${randomBytes(4).toString('hex')}`;
    const targets = [...new Set([...ctx.options.namespaces, '/'])];
    for (const nsp of [...targets, undeclared]) {
      for (const transport of AUDIT_TRANSPORTS) {
        const label = nsp === undeclared ? `${nsp} (undeclared) ${transport}` : `${nsp} ${transport}`;
        results.push(await refused(ctx, 'auth.no-credentials', label, { nsp, transport }, 'connected without any credential'));
      }
    }
    const nsp = ctx.primaryNamespace;
    for (const transport of AUDIT_TRANSPORTS) {
      results.push(await refused(ctx, 'auth.empty-token', `${nsp} ${transport}`, { nsp, transport, auth: { token: '' } }, 'connected with auth: { token: "" }'));
    }
    const token = ctx.options.token;
    for (const transport of AUDIT_TRANSPORTS) {
      const target = `${nsp} ${transport}`;
      if (token === undefined) {
        results.push(ctx.result('auth.query-token', target, 'N/A', 'no --token given', AuditSeed.WEBSOCKET_AUTH_REQUIRED));
        continue;
      }
      results.push(await refused(ctx, 'auth.query-token', target, { nsp, transport, query: { token, access_token: token } },
        'connected with the token in the query string (?token=, ?access_token=): it leaks into logs, proxies and history'));
    }
    return results;
  },
};

/** PASS when the attempt is refused, FAIL when it connects. */
export async function refused(ctx: AuditContext, id: string, target: string, request: ProbeRequest, failEvidence: string): Promise<AuditCheckResult> {
  const outcome = await ctx.probes.connect(request);
  if (outcome.socket !== undefined) ctx.probes.close(outcome.socket);
  if (outcome.connected) return ctx.result(id, target, 'FAIL', failEvidence, AuditSeed.WEBSOCKET_AUTH_REQUIRED);
  return ctx.result(id, target, 'PASS', `refused: ${outcome.description}${controlNote(ctx, request.nsp, request.transport)}`, AuditSeed.WEBSOCKET_AUTH_REQUIRED);
}

function controlNote(ctx: AuditContext, nsp: string, transport: AuditTransport): string {
  const control = ctx.controls.get(`${nsp} ${transport}`);
  return control === false ? ' (but the token was refused here too: the refusal is not specific)' : '';
}
