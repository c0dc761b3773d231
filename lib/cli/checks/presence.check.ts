import type { AuditCheck } from '../audit-check.interface.js';
import { isErrorBody } from '../audit-context.js';
import { AuditSeed } from '../audit-report.interface.js';

/** A user id nobody has: presence news about it can only come from a forged event. */
export const GHOST_USER = 'audit-ghost-user';

/**
 * Two sockets of the token's user: the actor emits the client events that presence systems
 * trust by mistake (`presence_update`, `set_status`, heartbeats...) claiming the user is offline
 * and a ghost user is online; the observer must receive no presence news either claim caused.
 * The audit only sees what the server broadcasts; it cannot read the server's presence store.
 */
export const presenceCheck: AuditCheck = {
  id: 'presence.client-forged',
  async run(ctx) {
    const nsp = ctx.primaryNamespace;
    const target = `${nsp} websocket`;
    const seed = AuditSeed.SERVER_COMPUTED_PRESENCE;
    const token = ctx.options.token;
    if (token === undefined) return [ctx.result(this.id, target, 'N/A', 'no --token given', seed)];
    const observer = await ctx.probes.connectWithToken(nsp, 'websocket', token);
    if (observer.socket === undefined) return [ctx.result(this.id, target, 'N/A', `observer could not connect: ${observer.description}`, seed)];
    const actor = await ctx.probes.connectWithToken(nsp, 'websocket', token);
    if (actor.socket === undefined) {
      ctx.probes.close(observer.socket);
      return [ctx.result(this.id, target, 'N/A', `needs two connections of the user; the second was refused: ${actor.description}`, seed)];
    }
    const actorSocket = actor.socket;
    const self = ctx.subject;
    const seen: string[] = [];
    observer.socket.onAny((event: unknown, ...args: unknown[]) => {
      const claim = forgedClaim(args[0], self);
      if (claim !== null) seen.push(`"${ctx.redactor.clean(String(event), 40)}" ${claim}`);
    });
    const forged: ReadonlyArray<[string, Record<string, unknown>]> = [
      ['presence_update', { userId: self ?? 'me', status: 'offline' }],
      ['set_status', { status: 'offline' }],
      ['presence:set', { status: 'offline' }],
      ['status', { status: 'offline' }],
      ['heartbeat', { userId: GHOST_USER, status: 'online' }],
      ['presence_update', { userId: GHOST_USER, status: 'online' }],
    ];
    ctx.budget.takeMessages(forged.length);
    const answers = await Promise.all(forged.map(async ([event, payload]) => {
      try {
        return await actorSocket.timeout(ctx.options.settleMs).emitWithAck(event, payload);
      } catch {
        return undefined;
      }
    }));
    // Broadcasts caused by the last forged event may trail its ack: give them a quiet window.
    await new Promise((resolve) => setTimeout(resolve, ctx.options.settleMs));
    ctx.probes.close(actor.socket);
    ctx.probes.close(observer.socket);
    const handled = answers.filter((a) => a !== undefined && !isErrorBody(a)).length;
    const handledNote = handled > 0 ? `; ${handled} of ${forged.length} were answered by a handler` : '';
    if (seen.length > 0) {
      return [ctx.result(this.id, target, 'FAIL', `client-sent presence events changed presence: the observer received ${seen.slice(0, 3).join(', ')}${handledNote}`, seed)];
    }
    return [ctx.result(this.id, target, 'PASS', `${forged.length} forged presence events (offline for the user, online for a ghost user) caused no presence news ` +
      `on a second socket within ${ctx.options.settleMs} ms${handledNote} (only broadcasts are visible to the audit)`, seed)];
  },
};

/** Describes a payload that repeats a forged claim: the user offline, or the ghost online. */
function forgedClaim(payload: unknown, self: string | undefined): string | null {
  if (payload === null || typeof payload !== 'object') return null;
  const { userId, status } = payload as { userId?: unknown; status?: unknown };
  if (userId === GHOST_USER) return 'announcing the ghost user';
  if (status === 'offline' && (userId === undefined || userId === self || userId === 'me')) return 'announcing the user offline while connected';
  return null;
}
