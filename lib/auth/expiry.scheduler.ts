/**
 * One timer for every deadline: items sit in buckets of `resolutionMs` and a single unref'd
 * timer, armed for the next bucket boundary, fires the due ones. O(1) to schedule, move or
 * cancel; no timer object per socket. An item fires at its bucket's boundary: never before its
 * deadline, and less than `resolutionMs` after it (plus event-loop delay).
 */
export class ExpiryScheduler<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly bucketOf = new Map<T, number>();
  private timer: NodeJS.Timeout | null = null;
  /** Every bucket up to this one has fired. */
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
    if (this.timer === null) this.cursor = Math.max(this.cursor, Math.floor(Date.now() / this.resolutionMs));
    const bucket = Math.max(Math.ceil(atMs / this.resolutionMs), this.cursor + 1);
    let set = this.buckets.get(bucket);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(bucket, set);
    }
    set.add(item);
    this.bucketOf.set(item, bucket);
    this.arm();
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
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.buckets.clear();
    this.bucketOf.clear();
  }

  /** Arms the one timer for the next bucket boundary, while anything is scheduled. */
  private arm(): void {
    if (this.timer !== null || this.bucketOf.size === 0) return;
    const delay = this.resolutionMs - (Date.now() % this.resolutionMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick();
      this.arm();
    }, delay);
    this.timer.unref();
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
  }
}
