/**
 * Listeners called synchronously, in subscription order, each isolated from the others: one that
 * throws is reported to `onError` and the rest still run. Internal: not exported from the package.
 */
export class ListenerSet<T> {
  private readonly listeners = new Set<(value: T) => void>();

  /** Adds `listener`; the returned function removes it. */
  add(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls every listener present now with `value`. */
  emit(value: T, onError: (error: unknown) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (error) {
        onError(error);
      }
    }
  }
}
