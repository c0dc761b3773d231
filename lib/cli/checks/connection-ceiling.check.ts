import type { Socket } from 'socket.io-client';
import type { AuditCheck } from '../audit-check.interface.js';
import { AuditSeed, type AuditCheckResult } from '../audit-report.interface.js';

/** The seed check's upper bound on a per-user ceiling. */
const SEED_MAX_CEILING = 10;

/**
 * Opens connections of the token's user one after the other, up to the expected ceiling + 1
 * (11 when none is given), then closes them all and checks a new one is accepted again (the
 * slots were released). Other live connections of the same user lower what the audit can open.
 */
export const connectionCeilingCheck: AuditCheck = {
  id: 'limits.connection-ceiling',
  async run(ctx) {
    const nsp = ctx.primaryNamespace;
    const target = `${nsp} websocket`;
    const seed = AuditSeed.PER_USER_CONNECTION_LIMITS;
    const token = ctx.options.token;
    if (token === undefined) {
      return [ctx.result(this.id, target, 'N/A', 'no --token given', seed), ctx.result('limits.slot-release', target, 'N/A', 'no --token given', seed)];
    }
    const expected = ctx.options.maxConnections;
    const attempts = (expected ?? SEED_MAX_CEILING) + 1;
    const sockets: Socket[] = [];
    let refusal: { at: number; description: string; code?: string } | null = null;
    const results: AuditCheckResult[] = [];
    try {
      for (let i = 1; i <= attempts; i++) {
        // The first attempt may meet slots of earlier checks' sockets not yet released.
        const outcome = i === 1 ? await ctx.probes.connectWithToken(nsp, 'websocket', token) : await ctx.probes.connect({ nsp, transport: 'websocket', auth: { token } });
        if (outcome.socket !== undefined) sockets.push(outcome.socket);
        if (!outcome.connected) {
          refusal = { at: i, description: outcome.description, ...(outcome.code !== undefined ? { code: outcome.code } : {}) };
          break;
        }
      }
    } finally {
      for (const socket of sockets) ctx.probes.close(socket);
    }

    const opened = sockets.length;
    if (refusal === null) {
      results.push(ctx.result(this.id, target, 'FAIL', expected !== undefined
        ? `${opened} connections of one user accepted: no ceiling at ${expected} (--max-connections)`
        : `${opened} connections of one user accepted: no per-user ceiling at or below ${SEED_MAX_CEILING}`, seed));
    } else if (refusal.at === 1) {
      results.push(ctx.result(this.id, target, 'N/A', `the token could not open a single connection: ${refusal.description}`, seed));
    } else if (expected === undefined || refusal.at === expected + 1) {
      results.push(ctx.result(this.id, target, 'PASS', `per-user ceiling ${opened}: connection ${refusal.at} refused with ${refusal.description}`, seed));
    } else {
      results.push(ctx.result(this.id, target, 'FAIL', `connection ${refusal.at} refused (${refusal.description}) although --max-connections is ${expected}: ` +
        'the ceiling is lower than expected, or other connections of this user are open elsewhere', seed));
    }

    if (opened === 0) {
      results.push(ctx.result('limits.slot-release', target, 'N/A', 'no connection was opened', seed));
      return results;
    }
    // After closing them all, the server must accept the user again within the step timeout.
    const started = Date.now();
    const again = await ctx.probes.connectWithToken(nsp, 'websocket', token);
    if (again.socket !== undefined) ctx.probes.close(again.socket);
    results.push(again.connected
      ? ctx.result('limits.slot-release', target, 'PASS', `after closing ${opened} connections a new one was accepted within ${Date.now() - started} ms`, seed)
      : ctx.result('limits.slot-release', target, 'FAIL', `after closing ${opened} connections a new one was still refused: ${again.description} (slots not released)`, seed));
    return results;
  },
};
