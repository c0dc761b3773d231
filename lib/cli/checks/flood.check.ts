import type { AuditCheck } from '../audit-check.interface.js';
import { errorCode, isErrorBody } from '../audit-context.js';

/** Tally of the answers to a flood. */
interface FloodTally {
  handled: number;
  rateLimited: number;
  refused: Map<string, number>;
  unanswered: number;
  /** `exception` events carrying `RATE_LIMITED` (how a server tells a socket it drops). */
  told: number;
  disconnectedAfter: number | null;
  disconnectReason: string;
}

/**
 * `--flood-count` messages of `--flood-event`, each with an ack, sent at once from one
 * authenticated socket. PASS when the server answers `RATE_LIMITED` or closes the socket; FAIL
 * when it answers them all without limiting, or leaves acks hanging; N/A when it answers none
 * (no handler for the event: give one it handles).
 */
export const floodCheck: AuditCheck = {
  id: 'limits.flood',
  async run(ctx) {
    const nsp = ctx.primaryNamespace;
    const target = `${nsp} websocket`;
    const { token, floodCount: count, floodEvent: event, floodPayload: payload } = ctx.options;
    if (token === undefined) return [ctx.result(this.id, target, 'N/A', 'no --token given')];
    const outcome = await ctx.probes.connectWithToken(nsp, 'websocket', token);
    if (outcome.socket === undefined) return [ctx.result(this.id, target, 'N/A', `could not connect with the token: ${outcome.description}`)];
    const socket = outcome.socket;
    ctx.budget.takeMessages(count);
    const wait = Math.max(ctx.budget.stepMs, 1000);
    const tally: FloodTally = { handled: 0, rateLimited: 0, refused: new Map(), unanswered: 0, told: 0, disconnectedAfter: null, disconnectReason: '' };
    const started = Date.now();
    await new Promise<void>((resolve) => {
      let pending = count;
      const done = () => { if (--pending === 0) resolve(); };
      socket.on('exception', (body: unknown) => {
        if (errorCode(body) === 'RATE_LIMITED') tally.told += 1;
      });
      socket.once('disconnect', (reason) => {
        if (reason === 'io client disconnect') return;
        tally.disconnectReason = reason;
        tally.disconnectedAfter = tally.handled + tally.rateLimited + sum(tally.refused);
        resolve();
      });
      for (let i = 0; i < count; i++) {
        socket.timeout(wait).emit(event, payload, (err: Error | null, body: unknown) => {
          if (err !== null) tally.unanswered += 1;
          else if (errorCode(body) === 'RATE_LIMITED') tally.rateLimited += 1;
          else if (isErrorBody(body)) {
            const code = ctx.redactor.clean(errorCode(body) ?? 'error', 40);
            tally.refused.set(code, (tally.refused.get(code) ?? 0) + 1);
          } else tally.handled += 1;
          done();
        });
      }
    });
    const elapsed = Date.now() - started;
    ctx.probes.close(socket);
    const refusedText = [...tally.refused].map(([code, n]) => `${n} ${code}`).join(', ');
    const answered = `${tally.handled} handled${refusedText !== '' ? `, ${refusedText}` : ''}`;
    const what = `${count} "${ctx.redactor.clean(event, 60)}" messages in ${elapsed} ms`;
    const closed = tally.disconnectedAfter !== null
      ? `the server closed the socket (${tally.disconnectReason}) after ${tally.disconnectedAfter} answers${tally.told > 0 ? ', telling it RATE_LIMITED' : ''}`
      : '';
    if (tally.rateLimited > 0) {
      return [ctx.result(this.id, target, 'PASS', `${what}: ${tally.rateLimited} answered RATE_LIMITED, ${answered}${closed !== '' ? `; ${closed}` : ''}`)];
    }
    if (closed !== '') return [ctx.result(this.id, target, 'PASS', `${what}: ${closed} (${answered})`)];
    if (tally.told > 0) return [ctx.result(this.id, target, 'PASS', `${what}: ${tally.told} RATE_LIMITED exception events (${answered})`)];
    if (tally.unanswered === count) {
      return [ctx.result(this.id, target, 'N/A', `${what}: none answered and the socket stayed open: the server has no handler for this event. ` +
        'Give --flood-event (and --flood-payload) of an event it handles to test its rate limit')];
    }
    if (tally.unanswered > 0) {
      return [ctx.result(this.id, target, 'FAIL', `${what}: ${answered}, then ${tally.unanswered} acks left hanging for ${wait} ms instead of RATE_LIMITED`)];
    }
    return [ctx.result(this.id, target, 'FAIL', `${what}: all answered (${answered}), none rate-limited, socket kept open`)];
  },
};

function sum(counts: Map<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}
