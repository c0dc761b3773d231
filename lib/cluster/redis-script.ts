import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';
import { isErrorLike } from './redis-error-log.js';

/**
 * A Lua script run with EVALSHA (EVAL once when Redis does not know it yet, e.g. after a
 * restart). The source is a constant: identifiers only ever travel as KEYS and ARGV.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * EVAL, never EVALSHA: for a call that must take effect even if the caller stops waiting (a
   * timed-out EVALSHA that finds the script unknown does nothing, and its EVAL retry is never sent).
   */
  async runOnce(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return client.eval(this.source, keys.length, ...keys, ...args);
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isErrorLike(error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
