import { ExpiryScheduler } from '../../lib/auth/expiry.scheduler.js';

/**
 * One shared timer for every deadline, firing on bucket boundaries: never before a deadline,
 * less than one resolution after it. A small resolution keeps these tests fast.
 */
describe('auth: ExpiryScheduler', () => {
  const RESOLUTION = 50;
  let scheduler: ExpiryScheduler<string>;
  const fired: Array<{ item: string; at: number }> = [];

  beforeEach(() => {
    fired.length = 0;
    scheduler = new ExpiryScheduler((item) => fired.push({ item, at: Date.now() }), RESOLUTION);
  });
  afterEach(() => scheduler.clear());

  function firedAll(n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = setInterval(() => {
        if (fired.length >= n) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
  }

  it('fires each item once, never before its deadline and within one resolution after it (plus timer lag)', async () => {
    const now = Date.now();
    const deadlines = new Map([['a', now + 30], ['b', now + 120], ['c', now + 75], ['d', now - 10]]);
    for (const [item, at] of deadlines) scheduler.schedule(item, at);
    expect(scheduler.size).toBe(4);
    await firedAll(4);
    for (const { item, at } of fired) {
      const deadline = deadlines.get(item) as number;
      expect(at).toBeGreaterThanOrEqual(deadline);
      expect(at - deadline).toBeLessThan(RESOLUTION + 40);
    }
    expect(fired.map((f) => f.item).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(scheduler.size).toBe(0);
  });

  it('moves an item when rescheduled and forgets a cancelled one', async () => {
    const now = Date.now();
    scheduler.schedule('moved', now + 20);
    scheduler.schedule('cancelled', now + 20);
    scheduler.schedule('witness', now + 160);
    scheduler.schedule('moved', now + 110);
    scheduler.cancel('cancelled');
    await firedAll(2);
    expect(fired.map((f) => f.item)).toEqual(['moved', 'witness']);
    expect(fired[0]?.at).toBeGreaterThanOrEqual(now + 110);
  });

  it('lets an item be rescheduled from its own callback', async () => {
    let rounds = 0;
    const again = new ExpiryScheduler<string>((item) => {
      rounds += 1;
      if (rounds < 3) again.schedule(item, Date.now() + 10);
    }, RESOLUTION);
    again.schedule('x', Date.now());
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (rounds >= 3) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    expect(again.size).toBe(0);
    again.clear();
  });

  it('clear() drops everything', () => {
    scheduler.schedule('a', Date.now() + 1000);
    scheduler.clear();
    expect(scheduler.size).toBe(0);
  });
});
