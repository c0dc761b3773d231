import type { AuditCheck } from '../audit-check.interface.js';
import { errorCode, isErrorBody, packetPrefix } from '../audit-context.js';

/** Event arrays a client library refuses to send, sent raw. */
export const RESERVED_EVENT_FRAMES: ReadonlyArray<{ label: string; args: unknown[] }> = [
  { label: 'connect', args: ['connect'] },
  { label: 'connect_error', args: ['connect_error', {}] },
  { label: 'disconnect', args: ['disconnect', 'transport close'] },
  { label: 'disconnecting', args: ['disconnecting', 'transport close'] },
  { label: 'newListener', args: ['newListener', 'audit'] },
  { label: 'removeListener', args: ['removeListener', 'audit'] },
  { label: 'error', args: ['error', { message: 'audit' }] },
  { label: 'number', args: [42, {}] },
  { label: 'null', args: [null, {}] },
  { label: 'object', args: [{ toString: 'audit' }, {}] },
  { label: 'empty', args: [] },
];

/**
 * Reserved (`connect`, `disconnect`, `error`, `newListener`...) and non-string event names, each
 * with an ack id, on its own authenticated raw websocket, followed by a harmless barrier event.
 * FAIL when one is answered by a handler (a non-error ack) or the server stops serving; PASS when
 * each is refused, closed, or ignored.
 */
export const reservedEventsCheck: AuditCheck = {
  id: 'protocol.reserved-events',
  async run(ctx) {
    const nsp = ctx.primaryNamespace;
    const target = `${nsp} websocket`;
    if (ctx.options.token === undefined) return [ctx.result(this.id, target, 'N/A', 'no --token given: events are only dispatched on an authenticated connection')];
    const outcomes: string[] = [];
    const handled: string[] = [];
    for (const frame of RESERVED_EVENT_FRAMES) {
      const client = await ctx.rawAuthenticated('websocket', nsp);
      if (typeof client === 'string') {
        return [ctx.result(this.id, target, 'FAIL', `${outcomes.join('; ')}${outcomes.length > 0 ? '; then ' : ''}` +
          `the server no longer accepted the token before "${frame.label}": ${client}`)];
      }
      ctx.budget.takeMessages(2);
      await client.send(`${packetPrefix(2, nsp)}1${JSON.stringify(frame.args)}`, `${packetPrefix(2, nsp)}2["audit:barrier"]`);
      const answer = await client.next((p) => p.type === 3 && p.nsp === nsp, ctx.options.settleMs);
      if (answer === null) {
        outcomes.push(`${frame.label}: ${client.isClosed ? 'connection closed' : 'no answer'}`);
      } else if (answer.id === 1) {
        const body = Array.isArray(answer.data) ? answer.data[0] : answer.data;
        if (isErrorBody(body)) outcomes.push(`${frame.label}: refused ${ctx.redactor.clean(errorCode(body) ?? 'error', 40)}`);
        else {
          outcomes.push(`${frame.label}: HANDLED`);
          handled.push(frame.label);
        }
      } else {
        outcomes.push(`${frame.label}: ignored`);
      }
      await client.end();
    }
    const after = await ctx.rawAuthenticated('websocket', nsp);
    if (typeof after === 'string') return [ctx.result(this.id, target, 'FAIL', `${outcomes.join('; ')}; afterwards the token was refused: ${after}`)];
    await after.end();
    if (handled.length > 0) {
      return [ctx.result(this.id, target, 'FAIL', `a handler answered ${handled.map((l) => `"${l}"`).join(', ')} (${outcomes.join('; ')})`)];
    }
    return [ctx.result(this.id, target, 'PASS', `${outcomes.join('; ')}; the server kept serving`)];
  },
};
