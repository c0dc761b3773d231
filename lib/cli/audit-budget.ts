import { AuditBudgetExhaustedError } from './audit-budget-exhausted.error.js';
import { MAX_AUDIT_CONNECTIONS } from './audit-options.interface.js';

/**
 * The audit's bounds: a global deadline, a ceiling on connections and on messages. Every probe
 * asks the budget first, so a run can never turn into a flood of its own.
 */
export class AuditBudget {
  private readonly deadline: number;
  private connections = 0;
  private messages = 0;

  constructor(
    timeBudgetMs: number,
    private readonly stepTimeoutMs: number,
    private readonly maxConnections = MAX_AUDIT_CONNECTIONS,
    private readonly maxMessages = 5000,
  ) {
    this.deadline = Date.now() + timeBudgetMs;
  }

  get connectionsOpened(): number {
    return this.connections;
  }

  get messagesSent(): number {
    return this.messages;
  }

  get remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** The wait for one answer: the step timeout, or less when the deadline is closer. */
  get stepMs(): number {
    this.assertTime();
    return Math.min(this.stepTimeoutMs, this.remainingMs);
  }

  /** Accounts for one connection about to be opened. */
  takeConnection(): void {
    this.assertTime();
    if (this.connections >= this.maxConnections) throw new AuditBudgetExhaustedError(`connection budget (${this.maxConnections}) spent`);
    this.connections += 1;
  }

  /** Accounts for `count` messages about to be sent. */
  takeMessages(count: number): void {
    this.assertTime();
    if (this.messages + count > this.maxMessages) throw new AuditBudgetExhaustedError(`message budget (${this.maxMessages}) spent`);
    this.messages += count;
  }

  assertTime(): void {
    if (Date.now() >= this.deadline) throw new AuditBudgetExhaustedError('time budget spent');
  }
}
