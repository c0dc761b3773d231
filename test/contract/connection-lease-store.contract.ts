import type { ConnectionLeaseStore } from '../../lib/index.js';

/** Per-test hooks of a store implementation under contract. */
export interface LeaseStoreContractOptions<S extends ConnectionLeaseStore> {
  /** Called after each test with the store it made (close clients, delete keys). */
  dispose?: (store: S) => unknown;
}

let sequence = 0;
/** A user key no other test (or earlier run on a shared Redis) uses. */
function freshUser(label = 'u'): string {
  sequence += 1;
  return `contract-tenant/${label}-${process.pid}-${Date.now().toString(36)}-${sequence}`;
}

/**
 * The behaviour every `ConnectionLeaseStore` must have. Run it from a spec:
 * `describeConnectionLeaseStoreContract('in-memory', () => new InMemoryConnectionLeaseStore())`.
 * `makeStore` is called for every test; stores may share a backend if their keys differ.
 */
export function describeConnectionLeaseStoreContract<S extends ConnectionLeaseStore>(
  name: string,
  makeStore: () => S | Promise<S>,
  options: LeaseStoreContractOptions<S> = {},
): void {
  describe(`ConnectionLeaseStore contract: ${name}`, () => {
    let store: S;
    beforeEach(async () => { store = await makeStore(); });
    afterEach(async () => { await options.dispose?.(store); });

    it('grants up to max, refuses the next, and counts', async () => {
      const user = freshUser();
      expect(await store.count(user)).toBe(0);
      expect(await store.acquire(user, 'l1', 2)).toBe(true);
      expect(await store.acquire(user, 'l2', 2)).toBe(true);
      expect(await store.acquire(user, 'l3', 2)).toBe(false);
      expect(await store.count(user)).toBe(2);
    });

    it('a refused acquire takes nothing: releasing it later frees no real slot', async () => {
      const user = freshUser();
      await store.acquire(user, 'l1', 1);
      expect(await store.acquire(user, 'refused', 1)).toBe(false);
      await store.release(user, 'refused');
      expect(await store.count(user)).toBe(1);
      expect(await store.acquire(user, 'l2', 1)).toBe(false);
    });

    it('acquiring a lease it already holds is idempotent and takes no second slot', async () => {
      const user = freshUser();
      expect(await store.acquire(user, 'l1', 2)).toBe(true);
      expect(await store.acquire(user, 'l1', 2)).toBe(true);
      expect(await store.count(user)).toBe(1);
      expect(await store.acquire(user, 'l2', 2)).toBe(true);
      expect(await store.count(user)).toBe(2);
    });

    it('release frees exactly one slot, and a freed slot can be taken again', async () => {
      const user = freshUser();
      await store.acquire(user, 'l1', 2);
      await store.acquire(user, 'l2', 2);
      await store.release(user, 'l1');
      expect(await store.count(user)).toBe(1);
      expect(await store.acquire(user, 'l3', 2)).toBe(true);
      expect(await store.acquire(user, 'l4', 2)).toBe(false);
    });

    it('release is idempotent; releasing unknown leases or users does nothing; counts never go negative', async () => {
      const user = freshUser();
      await store.acquire(user, 'l1', 3);
      await store.acquire(user, 'l2', 3);
      await store.release(user, 'l1');
      await store.release(user, 'l1');
      await store.release(user, 'l1');
      await store.release(user, 'never-acquired');
      await store.release(freshUser('nobody'), 'l2');
      expect(await store.count(user)).toBe(1);
      await store.release(user, 'l2');
      await store.release(user, 'l2');
      expect(await store.count(user)).toBe(0);
      expect(await store.acquire(user, 'l5', 1)).toBe(true);
      expect(await store.count(user)).toBe(1);
    });

    it('a lower max than the slots held refuses new leases without evicting held ones', async () => {
      const user = freshUser();
      await store.acquire(user, 'l1', 5);
      await store.acquire(user, 'l2', 5);
      await store.acquire(user, 'l3', 5);
      expect(await store.acquire(user, 'l4', 2)).toBe(false);
      expect(await store.count(user)).toBe(3);
    });

    it('users are isolated, including keys with separators, wildcards and Lua/Redis-special characters', async () => {
      const base = freshUser();
      const keys = [
        base, `${base}/x`, `${base}*`, `${base}:x`, `${base}{tag}`, `${base} x`, `${base}\u00e9`, `${base}__proto__`,
        `${base}[x]`, `${base}?`, `${base}'"--`, `${base}%2F`,
      ];
      for (const key of keys) expect(await store.acquire(key, 'same-lease-id', 1)).toBe(true);
      for (const key of keys) expect(await store.count(key)).toBe(1);
      await store.release(`${base}*`, 'same-lease-id');
      expect(await store.count(`${base}*`)).toBe(0);
      for (const key of keys.filter((k) => k !== `${base}*`)) expect(await store.count(key)).toBe(1);
    });

    it('is atomic: 50 concurrent acquires with max 3 grant exactly 3', async () => {
      const user = freshUser();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.acquire(user, `c${i}`, 3)));
      expect(results.filter(Boolean)).toHaveLength(3);
      expect(await store.count(user)).toBe(3);
    });

    it('is atomic across concurrent releases and acquires: never over max, count matches the grants', async () => {
      const user = freshUser();
      for (const id of ['h1', 'h2', 'h3']) await store.acquire(user, id, 3);
      const releases = ['h1', 'h2', 'h3'].map((id) => store.release(user, id));
      const acquires = Array.from({ length: 20 }, (_, i) => store.acquire(user, `n${i}`, 3));
      await Promise.all(releases);
      const granted = (await Promise.all(acquires)).filter(Boolean).length;
      expect(granted).toBeGreaterThanOrEqual(0);
      expect(granted).toBeLessThanOrEqual(3);
      expect(await store.count(user)).toBe(granted);
      // Once the releases have landed, the ceiling is reachable again exactly.
      const more = await Promise.all(Array.from({ length: 10 }, (_, i) => store.acquire(user, `m${i}`, 3)));
      expect(granted + more.filter(Boolean).length).toBe(3);
      expect(await store.count(user)).toBe(3);
    });

    it('concurrent duplicate releases of one lease free exactly one slot', async () => {
      const user = freshUser();
      await store.acquire(user, 'a', 3);
      await store.acquire(user, 'b', 3);
      await Promise.all(Array.from({ length: 20 }, () => store.release(user, 'a')));
      expect(await store.count(user)).toBe(1);
    });
  });
}
