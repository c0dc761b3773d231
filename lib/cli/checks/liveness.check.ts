import type { AuditCheck } from '../audit-check.interface.js';

/**
 * Last: the server still answers after every probe. With a token, it must still connect (a
 * refusal with a code, such as a penalty after the flood, still proves the server is up).
 */
export const livenessCheck: AuditCheck = {
  id: 'liveness.after-audit',
  async run(ctx) {
    const nsp = ctx.primaryNamespace;
    const target = `${nsp} websocket`;
    const token = ctx.options.token;
    const outcome = token !== undefined
      ? await ctx.probes.connectWithToken(nsp, 'websocket', token)
      : await ctx.probes.connect({ nsp, transport: 'websocket' });
    if (outcome.socket !== undefined) ctx.probes.close(outcome.socket);
    if (outcome.connected) return [ctx.result(this.id, target, 'PASS', 'the token still connects after every probe')];
    if (outcome.serverAnswered) return [ctx.result(this.id, target, 'PASS', `the server still answers (${outcome.description})`)];
    return [ctx.result(this.id, target, 'FAIL', `the server no longer answers as it did: ${outcome.description}`)];
  },
};
