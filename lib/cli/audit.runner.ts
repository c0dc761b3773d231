import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AuditBudgetExhaustedError } from './audit-budget-exhausted.error.js';
import type { AuditCheck } from './audit-check.interface.js';
import { AuditContext } from './audit-context.js';
import type { AuditOptions } from './audit-options.interface.js';
import type { AuditCheckResult, AuditReport } from './audit-report.interface.js';
import { AuditUsageError } from './audit-usage.error.js';
import {
  authenticationCheck,
  connectionCeilingCheck,
  controlCheck,
  floodCheck,
  forgedTokenCheck,
  livenessCheck,
  originCheck,
  oversizeCheck,
  presenceCheck,
  reservedEventsCheck,
  sseCheck,
} from './checks/index.js';
import { isAllowedTarget } from './target.guard.js';

/**
 * The checks, in order. The control runs first (what must work does work); the connection
 * ceiling and the flood, which may leave the user penalised for a while, run last but one; the
 * liveness check closes the run.
 */
export const AUDIT_CHECKS: readonly AuditCheck[] = [
  controlCheck,
  authenticationCheck,
  forgedTokenCheck,
  originCheck,
  reservedEventsCheck,
  oversizeCheck,
  presenceCheck,
  connectionCeilingCheck,
  sseCheck,
  floodCheck,
  livenessCheck,
];

/**
 * Runs every check against a live server and returns the report. Refuses (`AuditUsageError`) a
 * host that is neither loopback nor in `options.allowedHosts`, and a server that does not answer
 * HTTP at all. Bounded by `options.timeBudgetMs` and the connection and message budgets.
 */
export async function runAudit(options: AuditOptions, checks: readonly AuditCheck[] = AUDIT_CHECKS): Promise<AuditReport> {
  const url = new URL(options.url);
  if (!isAllowedTarget(url, options.allowedHosts)) {
    throw new AuditUsageError(`${url.hostname} is not a loopback host and is not in allowedHosts (--allow-host): refusing to probe it.`);
  }
  await assertReachable(url.origin + options.path, options.stepTimeoutMs);

  const startedAt = new Date();
  const ctx = new AuditContext(options);
  const results: AuditCheckResult[] = [];
  let complete = true;
  for (const check of checks) {
    if (!complete) {
      results.push(ctx.result(check.id, '-', 'N/A', 'not run: the audit budget was spent'));
      continue;
    }
    try {
      results.push(...(await check.run(ctx)));
    } catch (error) {
      complete = false;
      const why = error instanceof AuditBudgetExhaustedError ? `not run to the end: ${error.message}` : `the check could not run: ${(error as Error).message}`;
      results.push(ctx.result(check.id, '-', 'N/A', why));
    } finally {
      await ctx.closeAll();
    }
  }
  const count = (status: AuditCheckResult['status']) => results.filter((r) => r.status === status).length;
  return {
    tool: 'nestjs-realtime-security audit',
    url: url.origin,
    namespaces: options.namespaces,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    complete,
    connectionsOpened: ctx.budget.connectionsOpened,
    messagesSent: ctx.budget.messagesSent,
    summary: { pass: count('PASS'), fail: count('FAIL'), notApplicable: count('N/A') },
    results,
  };
}

/** Exit code of a report: 1 on any FAIL, 2 when incomplete, else 0. */
export function exitCodeOf(report: AuditReport): number {
  if (report.summary.fail > 0) return 1;
  return report.complete ? 0 : 2;
}

/** Any HTTP answer will do; a refused or silent connection ends the audit before it starts. */
function assertReachable(url: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve();
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => reject(new AuditUsageError(`cannot reach ${new URL(url).origin}: ${error.message}. Is the server running?`)));
    req.end();
  });
}
