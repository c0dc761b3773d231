/** Thrown when the time or request budget is spent; the runner marks the remaining checks N/A. */
export class AuditBudgetExhaustedError extends Error {
  override readonly name = 'AuditBudgetExhaustedError';
}

