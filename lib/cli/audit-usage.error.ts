/** A bad command line or a refused target: the CLI prints the message and exits with code 2. */
export class AuditUsageError extends Error {
  override readonly name = 'AuditUsageError';
}
