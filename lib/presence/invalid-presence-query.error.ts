/**
 * A presence query with an argument that cannot be right (a cursor this service never issued,
 * a limit out of range, an empty id, a malformed preference). Map it to a 400 / `BAD_REQUEST`.
 * The message names the argument, never its value.
 */
export class InvalidPresenceQueryError extends RangeError {
  constructor(readonly argument: string, problem: string) {
    super(`PresenceService: \`${argument}\` ${problem}`);
    this.name = 'InvalidPresenceQueryError';
  }
}
