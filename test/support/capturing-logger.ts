import { inspect } from 'node:util';
import type { LoggerService } from '@nestjs/common';

/**
 * A Nest logger that keeps every line (message, context, error, stack) in memory, so a test can
 * assert what was, and what never was, written to the logs.
 */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];

  log(message: unknown, ...optional: unknown[]): void { this.push('log', message, optional); }
  error(message: unknown, ...optional: unknown[]): void { this.push('error', message, optional); }
  warn(message: unknown, ...optional: unknown[]): void { this.push('warn', message, optional); }
  debug(message: unknown, ...optional: unknown[]): void { this.push('debug', message, optional); }
  verbose(message: unknown, ...optional: unknown[]): void { this.push('verbose', message, optional); }
  fatal(message: unknown, ...optional: unknown[]): void { this.push('fatal', message, optional); }

  /** Everything logged so far, one line per call. */
  text(): string {
    return this.lines.join('\n');
  }

  /** Lines logged so far that contain `needle`. */
  matching(needle: string): string[] {
    return this.lines.filter((line) => line.includes(needle));
  }

  private push(level: string, message: unknown, optional: unknown[]): void {
    const parts = [message, ...optional].map((part) => (typeof part === 'string' ? part : inspect(part, { depth: 5, breakLength: Infinity })));
    this.lines.push(`${level} ${parts.join(' ')}`);
  }
}
