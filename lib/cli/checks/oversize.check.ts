import { AUDIT_TRANSPORTS } from '../audit-options.interface.js';
import type { AuditCheck } from '../audit-check.interface.js';
import { packetPrefix } from '../audit-context.js';
import type { AuditCheckResult } from '../audit-report.interface.js';
import type { RawEngineClient } from '../raw-engine.client.js';

/**
 * One message of `--oversize-bytes` from an authenticated connection: websocket must be closed,
 * polling must get an HTTP error (413) or be closed. Without a token the message is sent before
 * any CONNECT (the engine's cap applies before authentication).
 */
export const oversizeCheck: AuditCheck = {
  id: 'limits.oversize',
  async run(ctx) {
    const results: AuditCheckResult[] = [];
    const nsp = ctx.primaryNamespace;
    const size = ctx.options.oversizeBytes;
    for (const transport of AUDIT_TRANSPORTS) {
      const target = `${nsp} ${transport}`;
      let client: RawEngineClient;
      let how: string;
      if (ctx.options.token !== undefined) {
        const opened = await ctx.rawAuthenticated(transport, nsp);
        if (typeof opened === 'string') {
          results.push(ctx.result(this.id, target, 'N/A', `could not open an authenticated connection: ${opened}`));
          continue;
        }
        client = opened;
        how = 'an authenticated';
      } else {
        const opened = await ctx.raw(transport);
        if ('refused' in opened) {
          results.push(ctx.result(this.id, target, 'N/A', `engine handshake refused (HTTP ${opened.status})`));
          continue;
        }
        client = opened;
        how = 'an unauthenticated (no --token)';
      }
      ctx.budget.takeMessages(1);
      const head = `${packetPrefix(2, nsp)}["audit:oversize","`;
      const packet = `${head}${'x'.repeat(Math.max(0, size - head.length - 2))}"]`;
      const bytes = Buffer.byteLength(packet) + 1;
      const status = await client.send(packet);
      if (transport === 'polling' && status !== 200) {
        results.push(ctx.result(this.id, target, 'PASS', status === -1
          ? `the ${bytes}-byte POST from ${how} connection was cut off (connection reset)`
          : `the ${bytes}-byte POST from ${how} connection was answered HTTP ${status}`));
        await client.end();
        continue;
      }
      const wait = transport === 'polling' ? ctx.options.settleMs : Math.min(ctx.budget.stepMs, Math.max(1000, ctx.options.settleMs));
      const closed = await client.closedWithin(wait);
      await client.end();
      results.push(closed !== null
        ? ctx.result(this.id, target, 'PASS', `${how} connection was closed (${closed}) after a ${bytes}-byte message`)
        : ctx.result(this.id, target, 'FAIL', transport === 'polling'
          ? `a ${bytes}-byte POST from ${how} connection was accepted (HTTP 200) and the connection stayed open: no size cap at or below ${bytes} bytes`
          : `${how} connection was still open ${wait} ms after a ${bytes}-byte message: no size cap at or below ${bytes} bytes`));
    }
    return results;
  },
};
