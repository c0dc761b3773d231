import { parseAuditArguments } from './audit-arguments.parser.js';
import { AUDIT_HELP } from './audit-help.js';
import { AuditUsageError } from './audit-usage.error.js';
import { exitCodeOf, runAudit } from './audit.runner.js';
import { formatReportJson, formatReportText } from './report.formatter.js';

/** Where the CLI writes; the process streams by default, a buffer in tests. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const processOutput: CliOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * The `nestjs-realtime-security` command. Resolves with the exit code: 0 no FAIL, 1 any FAIL,
 * 2 bad usage, refused or unreachable target, or an incomplete run.
 */
export async function runCli(argv: readonly string[], output: CliOutput = processOutput, env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  try {
    const command = parseAuditArguments(argv, env);
    if (command.kind === 'help') {
      output.out(AUDIT_HELP);
      return 0;
    }
    const report = await runAudit(command.options);
    output.out(command.json ? formatReportJson(report) : formatReportText(report));
    return exitCodeOf(report);
  } catch (error) {
    if (error instanceof AuditUsageError) {
      output.err(`nestjs-realtime-security: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
