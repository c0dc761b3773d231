import { Logger } from '@nestjs/common';
import { errorText, isErrorLike } from '../utils/error-text.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/**
 * Logs Redis trouble without flooding: the first error of an outage at once, then at most one
 * line per 10 s per role with the number of errors in between, and one line on recovery.
 * Messages are reduced to the error's class and text with any `user:password@` removed; a URL,
 * password or payload is never logged.
 */
export class RedisErrorLog {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly lines = new ThrottledLog(this.logger);
  private readonly down = new Set<string>();

  error(role: string, error: unknown): void {
    this.down.add(role);
    this.lines.error(role, `redis ${role}: ${redact(error)}`);
  }

  recovered(role: string): void {
    if (!this.down.delete(role)) return;
    this.lines.reset(role);
    this.logger.log(`redis ${role}: connection is back`);
  }
}

/** An error's class and message, without credentials (see `errorText`). */
export const redact = errorText;
export { isErrorLike };
