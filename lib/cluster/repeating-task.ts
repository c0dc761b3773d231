/**
 * Runs an async task every `intervalMs`, never two at once; `kick()` runs it again soon (once the
 * current run ends); `stop()` waits for the current run. The timer is unref'd: it never keeps a
 * process alive on its own. The task must not throw (a throw ends nothing, it is swallowed).
 */
export class RepeatingTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly intervalMs: number, private readonly task: () => Promise<void>) {}

  start(): void {
    this.plan(0);
  }

  /** Runs the task as soon as possible (right after the current run, if one is going). */
  kick(): void {
    if (this.running !== undefined) this.again = true;
    else this.plan(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private plan(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), delayMs);
    this.timer.unref();
  }

  private run(): void {
    if (this.stopped || this.running !== undefined) return;
    const started = Date.now();
    this.running = this.task().catch(() => undefined).finally(() => {
      this.running = undefined;
      const next = this.again ? 0 : Math.max(0, this.intervalMs - (Date.now() - started));
      this.again = false;
      this.plan(next);
    });
  }
}
