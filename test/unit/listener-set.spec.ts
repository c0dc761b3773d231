import { InProcessModerationBus } from '../../lib/moderation/in-process-moderation.bus.js';
import { ListenerSet } from '../../lib/utils/listener-set.js';

describe('ListenerSet', () => {
  it('calls every listener in order; one that throws is reported and the others still run', () => {
    const set = new ListenerSet<number>();
    const seen: string[] = [];
    const errors: unknown[] = [];
    set.add((n) => seen.push(`a${n}`));
    set.add(() => { throw new Error('listener bug'); });
    set.add((n) => seen.push(`c${n}`));
    set.emit(1, (error) => errors.push(error));
    expect(seen).toEqual(['a1', 'c1']);
    expect(errors).toHaveLength(1);
  });

  it('stops calling a listener once removed, also when removed during an emit', () => {
    const set = new ListenerSet<number>();
    const seen: number[] = [];
    const remove = set.add((n) => { seen.push(n); remove(); });
    set.emit(1, () => undefined);
    set.emit(2, () => undefined);
    expect(seen).toEqual([1]);
  });

  it('keeps a bus delivering to healthy listeners when one throws', async () => {
    const bus = new InProcessModerationBus();
    const got: string[] = [];
    bus.subscribe(() => { throw new Error('listener bug'); });
    bus.subscribe((command) => got.push(command.kind));
    await bus.publish({ kind: 'unban', origin: 'test', tenantId: 'acme', userId: 'bob' });
    expect(got).toEqual(['unban']);
  });
});
