/**
 * One timer for every deadline: items sit in one-second buckets and a single unref'd interval
 * fires the due ones. O(1) to schedule, move or cancel; no timer object per socket.
 */
export class ExpiryScheduler<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly bucketOf = new Map<T, number>();
  private timer: NodeJS.Timeout | null = null;
  private cursor = 0;

  constructor(
    private readonly onDue: (item: T) => void,
    private readonly resolutionMs = 1000,
  ) {}

  get size(): number {
    return this.bucketOf.size;
  }

  /** (Re)schedules `item` to fire at `atMs` (epoch ms), never early. */
  schedule(item: T, atMs: number): void {
    this.cancel(item);
    if (this.timer === null) {
      this.cursor = Math.floor(Date.now() / this.resolutionMs);
      this.timer = setInterval(() => this.tick(), this.resolutionMs);
      this.timer.unref();
    }
    const bucket = Math.max(Math.ceil(atMs / this.resolutionMs), this.cursor + 1);
    let set = this.buckets.get(bucket);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(bucket, set);
    }
    set.add(item);
    this.bucketOf.set(item, bucket);
  }

  cancel(item: T): void {
    const bucket = this.bucketOf.get(item);
    if (bucket === undefined) return;
    this.bucketOf.delete(item);
    const set = this.buckets.get(bucket);
    if (set === undefined) return;
    set.delete(item);
    if (set.size === 0) this.buckets.delete(bucket);
  }

  /** Stops the timer and forgets everything. */
  clear(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.buckets.clear();
    this.bucketOf.clear();
  }

  private tick(): void {
    const now = Math.floor(Date.now() / this.resolutionMs);
    while (this.cursor < now) {
      this.cursor += 1;
      const set = this.buckets.get(this.cursor);
      if (set === undefined) continue;
      this.buckets.delete(this.cursor);
      for (const item of set) {
        this.bucketOf.delete(item);
        this.onDue(item);
      }
    }
    if (this.bucketOf.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
