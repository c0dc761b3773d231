import type { AuditContext } from './audit-context.js';
import type { AuditCheckResult } from './audit-report.interface.js';

/** One group of probes; results come back one per target. */
export interface AuditCheck {
  /** Id prefix of its results, used for the N/A line when the budget ran out before it. */
  readonly id: string;
  run(context: AuditContext): Promise<AuditCheckResult[]>;
}
