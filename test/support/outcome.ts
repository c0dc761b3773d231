import { WsSecurityException } from '../../lib/exceptions/ws-security.exception.js';

/**
 * Runs a guard or budget step (which may answer or throw at once, or through a promise) and reads
 * its outcome: `passed`, the `WsSecurityException` code, or `threw <error>` for anything else.
 */
export async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'passed';
  } catch (error) {
    return error instanceof WsSecurityException ? error.code : `threw ${String(error)}`;
  }
}
