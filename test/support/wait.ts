/**
 * Polls `condition` until it holds, for state that has no event to wait on (a counter in a
 * store, a slot released on the server). Fails with `what` after `timeoutMs`. Never a fixed sleep.
 */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
