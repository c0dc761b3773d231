/**
 * Values read once per gateway handler from decorator metadata, keyed by the handler and its
 * gateway class (a handler may be inherited by several gateways). Weak on both: nothing is kept
 * for classes that are gone.
 */
export class HandlerCache<T> {
  private readonly byHandler = new WeakMap<object, WeakMap<object, T>>();

  get(handler: object, gateway: object): T | undefined {
    return this.byHandler.get(handler)?.get(gateway);
  }

  set(handler: object, gateway: object, value: T): void {
    let byGateway = this.byHandler.get(handler);
    if (byGateway === undefined) {
      byGateway = new WeakMap();
      this.byHandler.set(handler, byGateway);
    }
    byGateway.set(gateway, value);
  }
}
