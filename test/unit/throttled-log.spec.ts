import { ThrottledLog, type ThrottledLogTarget } from '../../lib/utils/throttled-log.js';

class Lines implements ThrottledLogTarget {
  readonly lines: string[] = [];
  error(message: string): void { this.lines.push(`error ${message}`); }
  warn(message: string): void { this.lines.push(`warn ${message}`); }
}

describe('ThrottledLog', () => {
  let clock: number;
  let out: Lines;
  let log: ThrottledLog;
  beforeEach(() => {
    clock = 1_000_000;
    out = new Lines();
    log = new ThrottledLog(out, 10_000, () => clock);
  });

  it('writes one line per key per interval and counts the suppressed ones in the next', () => {
    for (let i = 0; i < 100; i++) log.error('store', `store failed #${i}`);
    expect(out.lines).toEqual(['error store failed #0']);
    clock += 9_999;
    log.error('store', 'store failed late');
    expect(out.lines).toHaveLength(1);
    clock += 1;
    log.error('store', 'store failed again');
    expect(out.lines).toEqual(['error store failed #0', 'error store failed again (100 more since the last line)']);
    clock += 10_000;
    log.warn('store', 'quiet since');
    expect(out.lines[2]).toBe('warn quiet since');
  });

  it('throttles each key on its own', () => {
    log.error('acquire', 'a');
    log.error('release', 'r');
    log.error('acquire', 'a2');
    expect(out.lines).toEqual(['error a', 'error r']);
  });

  it('writes at once after reset', () => {
    log.error('k', 'one');
    expect(log.reset('k')).toBe(true);
    log.error('k', 'two');
    expect(out.lines).toEqual(['error one', 'error two']);
    expect(log.reset('never')).toBe(false);
  });

  it('remembers a bounded number of keys', () => {
    for (let i = 0; i < 1000; i++) log.error(`k${i}`, `line ${i}`);
    expect(out.lines).toHaveLength(1000);
    // The oldest keys were forgotten, so they log at once again; the newest are still throttled.
    log.error('k0', 'again');
    log.error('k999', 'again');
    expect(out.lines).toHaveLength(1001);
  });
});
