/** Thrown at start-up for a bad option; the message names the option and the fix. */
export class InvalidRealtimeSecurityOptionsError extends Error {
  constructor(readonly option: string, problem: string, fix: string) {
    super(`RealtimeSecurityModule: option \`${option}\` ${problem}. ${fix}`);
    this.name = 'InvalidRealtimeSecurityOptionsError';
  }
}
