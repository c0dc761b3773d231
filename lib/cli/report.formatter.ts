import type { AuditReport } from './audit-report.interface.js';

/** One line per result: status, check id, target, evidence, and the related seed check. */
export function formatReportText(report: AuditReport): string {
  const idWidth = Math.max(...report.results.map((r) => r.id.length), 10);
  const targetWidth = Math.max(...report.results.map((r) => r.target.length), 6);
  const lines = report.results.map((r) =>
    `${r.status.padEnd(4)}  ${r.id.padEnd(idWidth)}  ${r.target.padEnd(targetWidth)}  ${r.evidence}${r.seed !== undefined ? `  [${r.seed}]` : ''}`);
  const { pass, fail, notApplicable } = report.summary;
  lines.push(
    '',
    `${report.url} ${report.namespaces.join(' ')}: ${pass} PASS, ${fail} FAIL, ${notApplicable} N/A in ${report.durationMs} ms ` +
      `(${report.connectionsOpened} connections, ${report.messagesSent} messages)${report.complete ? '' : '; INCOMPLETE: the budget ran out'}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The report as JSON (what `--json` prints). */
export function formatReportJson(report: AuditReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
