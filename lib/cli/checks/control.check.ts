import { AUDIT_TRANSPORTS } from '../audit-options.interface.js';
import type { AuditCheck } from '../audit-check.interface.js';
import type { AuditCheckResult } from '../audit-report.interface.js';

/**
 * The control: the given token connects on every namespace over both transports. Without it a
 * refusal elsewhere proves nothing (a server that refuses everything would pass every check).
 */
export const controlCheck: AuditCheck = {
  id: 'control.token',
  async run(ctx) {
    const results: AuditCheckResult[] = [];
    const token = ctx.options.token;
    for (const nsp of ctx.options.namespaces) {
      for (const transport of AUDIT_TRANSPORTS) {
        const target = `${nsp} ${transport}`;
        if (token === undefined) {
          results.push(ctx.result(this.id, target, 'N/A', 'no --token given: the refusals below are not compared with an accepted connection'));
          continue;
        }
        const outcome = await ctx.probes.connectWithToken(nsp, transport, token);
        ctx.controls.set(target, outcome.connected);
        if (outcome.socket !== undefined) ctx.probes.close(outcome.socket);
        results.push(outcome.connected
          ? ctx.result(this.id, target, 'PASS', 'the given token connects (control)')
          : ctx.result(this.id, target, 'FAIL', `the given token was refused: ${outcome.description}. Fix --token/--namespace; refusals elsewhere prove little until this passes`));
      }
    }
    return results;
  },
};
