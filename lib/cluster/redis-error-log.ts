import { Logger } from '@nestjs/common';
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

/** An error's class and message, without credentials. */
export function redact(error: unknown): string {
  const text = isErrorLike(error) ? `${error.name}: ${error.message}` : 'non-error thrown';
  return text.replace(/\/\/[^/@\s]*@/g, '//***@').slice(0, 300);
}

/** `instanceof Error` fails for errors made in another realm (a VM context): check the shape instead. */
export function isErrorLike(value: unknown): value is { name: string; message: string } {
  return typeof value === 'object' && value !== null
    && typeof (value as { message?: unknown }).message === 'string' && typeof (value as { name?: unknown }).name === 'string';
}
