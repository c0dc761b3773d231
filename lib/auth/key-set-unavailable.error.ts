/** No key set has been fetched yet (or ever could be): tokens cannot be checked, so none is accepted. */
export class KeySetUnavailableError extends Error {
  constructor() {
    super('No JSON Web Key Set is available yet');
    this.name = 'KeySetUnavailableError';
  }
}
