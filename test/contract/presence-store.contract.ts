import type { PresenceConnection, PresenceRecord, PresenceStore } from '../../lib/index.js';
import type { RoomMember, RoomMemberMeta, RoomPresenceConnection, RoomPresenceStore } from '../../lib/interfaces/presence-store.interface.js';

/** Per-test hooks of a store implementation under contract. */
export interface PresenceStoreContractOptions<S extends PresenceStore> {
  /** Called after each test with the store it made (close clients, delete keys). */
  dispose?: (store: S) => unknown;
}

let sequence = 0;
/** A tenant no other test (or earlier run on a shared Redis) uses. */
function freshTenant(label = 't'): string {
  sequence += 1;
  return `contract-${label}-${process.pid}-${Date.now().toString(36)}-${sequence}`;
}

function conn(tenantId: string, userId: string, leaseId: string, nodeId = 'node-a'): PresenceConnection {
  return { tenantId, userId, leaseId, nodeId };
}

/** Walks every page of a tenant's online users through the `after` cursor. */
async function walk(store: PresenceStore, tenantId: string, limit: number): Promise<PresenceRecord[][]> {
  const pages: PresenceRecord[][] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 1000; guard += 1) {
    const page: readonly PresenceRecord[] = await store.listOnline(tenantId, after, limit);
    if (page.length === 0) break;
    pages.push([...page]);
    if (page.length < limit) break;
    after = page[page.length - 1].userId;
  }
  return pages;
}

/**
 * The behaviour every `PresenceStore` must have. Run it from a spec:
 * `describePresenceStoreContract('in-memory', () => new InMemoryPresenceStore())`.
 * `makeStore` is called for every test; tests use fresh tenants, so stores may share a backend.
 */
export function describePresenceStoreContract<S extends PresenceStore>(
  name: string,
  makeStore: () => S | Promise<S>,
  options: PresenceStoreContractOptions<S> = {},
): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let store: S;
    beforeEach(async () => { store = await makeStore(); });
    afterEach(async () => { await options.dispose?.(store); });

    it('knows nobody at first', async () => {
      const t = freshTenant();
      expect(await store.get(t, 'alice')).toBeNull();
      expect(await store.countOnline(t)).toBe(0);
      expect(await store.listOnline(t, null, 10)).toEqual([]);
    });

    it('the first connection brings a user online; more connections are counted, not re-announced', async () => {
      const t = freshTenant();
      const first = await store.connectionOpened(conn(t, 'alice', 'l1'), 1000);
      expect(first.change).toBe('online');
      expect(first.record).toEqual({ tenantId: t, userId: 'alice', status: 'online', connections: 1, since: 1000, lastSeen: null });
      const second = await store.connectionOpened(conn(t, 'alice', 'l2', 'node-b'), 1100);
      expect(second.change).toBe('none');
      expect(second.record).toMatchObject({ status: 'online', connections: 2, since: 1000, lastSeen: null });
      expect(await store.get(t, 'alice')).toEqual(second.record);
      expect(await store.countOnline(t)).toBe(1);
    });

    it('closing one of two keeps the user online; closing the last takes them offline with lastSeen', async () => {
      const t = freshTenant();
      await store.connectionOpened(conn(t, 'alice', 'l1'), 1000);
      await store.connectionOpened(conn(t, 'alice', 'l2'), 1100);
      const one = await store.connectionClosed(conn(t, 'alice', 'l1'), 2000);
      expect(one.change).toBe('none');
      expect(one.record).toMatchObject({ status: 'online', connections: 1, since: 1000, lastSeen: null });
      const last = await store.connectionClosed(conn(t, 'alice', 'l2'), 3000);
      expect(last.change).toBe('offline');
      expect(last.record).toEqual({ tenantId: t, userId: 'alice', status: 'offline', connections: 0, since: null, lastSeen: 3000 });
      expect(await store.get(t, 'alice')).toEqual(last.record);
      expect(await store.countOnline(t)).toBe(0);
      expect(await store.listOnline(t, null, 10)).toEqual([]);
    });

    it('coming back online keeps the previous lastSeen and sets a new since', async () => {
      const t = freshTenant();
      await store.connectionOpened(conn(t, 'alice', 'l1'), 1000);
      await store.connectionClosed(conn(t, 'alice', 'l1'), 2000);
      const again = await store.connectionOpened(conn(t, 'alice', 'l2'), 5000);
      expect(again.change).toBe('online');
      expect(again.record).toMatchObject({ status: 'online', connections: 1, since: 5000, lastSeen: 2000 });
      const off = await store.connectionClosed(conn(t, 'alice', 'l2'), 6000);
      expect(off.record).toMatchObject({ status: 'offline', connections: 0, since: null, lastSeen: 6000 });
    });

    it('opening an open connection twice is a no-op', async () => {
      const t = freshTenant();
      await store.connectionOpened(conn(t, 'alice', 'l1'), 1000);
      const dup = await store.connectionOpened(conn(t, 'alice', 'l1'), 1500);
      expect(dup.change).toBe('none');
      expect(dup.record).toMatchObject({ status: 'online', connections: 1, since: 1000 });
      const off = await store.connectionClosed(conn(t, 'alice', 'l1'), 2000);
      expect(off.change).toBe('offline');
    });

    it('closing unknown or already closed connections is a no-op that reports none and creates nothing', async () => {
      const t = freshTenant();
      const unknown = await store.connectionClosed(conn(t, 'ghost', 'nope'), 1000);
      expect(unknown.change).toBe('none');
      expect(unknown.record).toMatchObject({ userId: 'ghost', tenantId: t, status: 'offline', connections: 0 });
      expect(await store.get(t, 'ghost')).toBeNull();
      await store.connectionOpened(conn(t, 'alice', 'l1'), 1000);
      await store.connectionClosed(conn(t, 'alice', 'l1'), 2000);
      const twice = await store.connectionClosed(conn(t, 'alice', 'l1'), 9000);
      expect(twice.change).toBe('none');
      expect(twice.record).toMatchObject({ status: 'offline', connections: 0, lastSeen: 2000 });
      const stranger = await store.connectionClosed(conn(t, 'alice', 'never-opened'), 9500);
      expect(stranger.change).toBe('none');
      expect(await store.get(t, 'alice')).toMatchObject({ status: 'offline', lastSeen: 2000 });
    });

    it('a lease id is only closed for the user it was opened for', async () => {
      const t = freshTenant();
      await store.connectionOpened(conn(t, 'alice', 'shared-id'), 1000);
      const wrong = await store.connectionClosed(conn(t, 'bob', 'shared-id'), 2000);
      expect(wrong.change).toBe('none');
      expect(await store.get(t, 'alice')).toMatchObject({ status: 'online', connections: 1 });
    });

    it('tenants are isolated, and ids with separators or special characters never collide', async () => {
      const a = freshTenant('a');
      const b = freshTenant('b');
      await store.connectionOpened(conn(a, 'alice', 'l1'), 1000);
      expect(await store.get(b, 'alice')).toBeNull();
      expect(await store.countOnline(b)).toBe(0);
      expect(await store.listOnline(b, null, 10)).toEqual([]);
      // `${t}/x` + `y` against `${t}` + `x/y`, and keys that are patterns or prototype names.
      const t = freshTenant('s');
      await store.connectionOpened(conn(`${t}/x`, 'y', 'l1'), 1000);
      expect(await store.get(t, 'x/y')).toBeNull();
      const odd = ['x/y', '*', 'a:b', '{tag}', '__proto__', 'constructor', 'sp ace', '\u00e9\u{1F600}', "'\"--", '%2F', '[x]?'];
      for (const [i, userId] of odd.entries()) await store.connectionOpened(conn(t, userId, `o${i}`), 2000 + i);
      expect(await store.countOnline(t)).toBe(odd.length);
      for (const userId of odd) expect(await store.get(t, userId)).toMatchObject({ userId, tenantId: t, status: 'online', connections: 1 });
      const listed = (await walk(store, t, 4)).flat().map((r) => r.userId);
      expect([...listed].sort()).toEqual([...odd].sort());
      await store.connectionClosed(conn(t, '*', 'o1'), 3000);
      expect(await store.countOnline(t)).toBe(odd.length - 1);
      expect(await store.get(t, 'a:b')).toMatchObject({ status: 'online' });
      expect(await store.countOnline(`${t}/x`)).toBe(1);
    });

    it('pages online users: each exactly once, only online ones, respecting limit', async () => {
      const t = freshTenant();
      const users = Array.from({ length: 25 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
      for (const [i, userId] of users.entries()) await store.connectionOpened(conn(t, userId, `l${i}`), 1000 + i);
      await store.connectionOpened(conn(t, 'gone', 'lg'), 1000);
      await store.connectionClosed(conn(t, 'gone', 'lg'), 1001);
      await store.connectionOpened(conn(freshTenant('other'), 'intruder', 'li'), 1000);
      const pages = await walk(store, t, 10);
      expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
      const ids = pages.flat().map((r) => r.userId);
      expect(new Set(ids).size).toBe(25);
      expect([...ids].sort()).toEqual(users);
      for (const record of pages.flat()) {
        expect(record).toMatchObject({ tenantId: t, status: 'online', connections: 1 });
        expect(record.since).toBe(1000 + users.indexOf(record.userId));
      }
      expect(await store.countOnline(t)).toBe(25);
      expect(await store.listOnline(t, null, 1)).toHaveLength(1);
    });

    it('paging continues when users come and go between pages, never skipping one present throughout', async () => {
      const t = freshTenant();
      const users = Array.from({ length: 12 }, (_, i) => `p${String(i).padStart(2, '0')}`);
      for (const [i, userId] of users.entries()) await store.connectionOpened(conn(t, userId, `l${i}`), 1000);
      const first = await store.listOnline(t, null, 4);
      expect(first).toHaveLength(4);
      // The cursor user itself and another seen user leave; a new one arrives.
      const cursor = first[first.length - 1].userId;
      const seenIdx = users.indexOf(cursor);
      await store.connectionClosed(conn(t, cursor, `l${seenIdx}`), 2000);
      await store.connectionClosed(conn(t, first[0].userId, `l${users.indexOf(first[0].userId)}`), 2000);
      await store.connectionOpened(conn(t, 'zz-late', 'late'), 2000);
      const seen = new Set(first.map((r) => r.userId));
      let after: string | null = cursor;
      for (let guard = 0; guard < 100 && after !== null; guard += 1) {
        const page: readonly PresenceRecord[] = await store.listOnline(t, after, 4);
        for (const r of page) {
          expect(seen.has(r.userId)).toBe(false);
          seen.add(r.userId);
        }
        after = page.length < 4 ? null : page[page.length - 1].userId;
      }
      for (const userId of users) {
        if (userId !== cursor && userId !== first[0].userId) expect(seen.has(userId)).toBe(true);
      }
    });

    it('is atomic per call: concurrent opens and closes of one user announce exactly once each way', async () => {
      const t = freshTenant();
      const n = 30;
      const opened = await Promise.all(Array.from({ length: n }, (_, i) => store.connectionOpened(conn(t, 'alice', `c${i}`, `node-${i % 3}`), 1000 + i)));
      expect(opened.filter((r) => r.change === 'online')).toHaveLength(1);
      expect(await store.get(t, 'alice')).toMatchObject({ status: 'online', connections: n });
      const closed = await Promise.all(Array.from({ length: n }, (_, i) => store.connectionClosed(conn(t, 'alice', `c${i}`, `node-${i % 3}`), 5000)));
      expect(closed.filter((r) => r.change === 'offline')).toHaveLength(1);
      expect(await store.get(t, 'alice')).toMatchObject({ status: 'offline', connections: 0, lastSeen: 5000 });
      expect(await store.countOnline(t)).toBe(0);
    });

    it('concurrent users of one tenant are each counted', async () => {
      const t = freshTenant();
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.connectionOpened(conn(t, `u${i}`, `l${i}`), 1000)));
      expect(await store.countOnline(t)).toBe(40);
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? store.connectionClosed(conn(t, `u${i}`, `l${i}`), 2000) : Promise.resolve())));
      expect(await store.countOnline(t)).toBe(20);
      expect((await walk(store, t, 7)).flat()).toHaveLength(20);
    });

    it('preferences are separate from status, per tenant, and cleared with null', async () => {
      const t = freshTenant();
      const other = freshTenant('o');
      expect(await store.getPreference(t, 'alice')).toBeNull();
      await store.setPreference(t, 'alice', 'dnd');
      expect(await store.getPreference(t, 'alice')).toBe('dnd');
      expect(await store.getPreference(other, 'alice')).toBeNull();
      // A preference never makes anyone online, and survives going online and offline.
      expect(await store.get(t, 'alice')).toBeNull();
      expect(await store.countOnline(t)).toBe(0);
      await store.connectionOpened(conn(t, 'alice', 'l1'), 1000);
      await store.setPreference(t, 'alice', 'away');
      expect(await store.get(t, 'alice')).toMatchObject({ status: 'online', connections: 1 });
      await store.connectionClosed(conn(t, 'alice', 'l1'), 2000);
      expect(await store.get(t, 'alice')).toMatchObject({ status: 'offline', connections: 0 });
      expect(await store.getPreference(t, 'alice')).toBe('away');
      await store.setPreference(t, 'alice', null);
      expect(await store.getPreference(t, 'alice')).toBeNull();
    });

    it('returns records the caller cannot use to change the store', async () => {
      const t = freshTenant();
      const { record } = await store.connectionOpened(conn(t, 'alice', 'l1'), 1000);
      try {
        (record as { status: string }).status = 'offline';
        (record as { connections: number }).connections = 99;
      } catch {
        // Frozen records throw in strict mode: also fine.
      }
      expect(await store.get(t, 'alice')).toMatchObject({ status: 'online', connections: 1 });
    });
  });
}

function member(tenantId: string, room: string, userId: string, leaseId: string, nodeId = 'node-a', meta?: RoomMemberMeta | null): RoomPresenceConnection {
  return { tenantId, room, userId, leaseId, nodeId, ...(meta !== undefined ? { meta } : {}) };
}

/** Walks every page of a room through the `after` cursor. */
async function walkRoom(store: RoomPresenceStore, tenantId: string, room: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 10_000; guard += 1) {
    const page: readonly RoomMember[] = await store.listRoom(tenantId, room, after, limit);
    ids.push(...page.map((m) => m.userId));
    if (page.length < limit) break;
    after = page[page.length - 1].userId;
  }
  return ids;
}

/**
 * The room part of the presence store contract (`RoomPresenceStore`), for stores that offer
 * room presence: `describeRoomPresenceStoreContract('in-memory', () => new InMemoryPresenceStore())`.
 */
export function describeRoomPresenceStoreContract<S extends RoomPresenceStore>(
  name: string,
  makeStore: () => S | Promise<S>,
  options: { dispose?: (store: S) => unknown } = {},
): void {
  describe(`RoomPresenceStore contract: ${name}`, () => {
    let store: S;
    beforeEach(async () => { store = await makeStore(); });
    afterEach(async () => { await options.dispose?.(store); });

    it('an empty room has no member', async () => {
      const t = freshTenant('room');
      expect(await store.countRoom(t, 'channel:general')).toBe(0);
      expect(await store.listRoom(t, 'channel:general', null, 10)).toEqual([]);
      expect(await store.roomMember(t, 'channel:general', 'alice')).toBeNull();
      expect(await store.roomsOf(t, 'alice', 10)).toEqual([]);
    });

    it('the first connection joins the user; a second counts, the user leaves with the last one', async () => {
      const t = freshTenant('room');
      const first = await store.roomJoined(member(t, 'channel:general', 'alice', 'l1'), 1000);
      expect(first).toEqual({ change: 'join', tenantId: t, room: 'channel:general', member: { userId: 'alice', connections: 1, joinedAt: 1000, meta: null } });
      const second = await store.roomJoined(member(t, 'channel:general', 'alice', 'l2', 'node-b'), 2000);
      expect(second.change).toBe('none');
      expect(second.member).toEqual({ userId: 'alice', connections: 2, joinedAt: 1000, meta: null });
      expect(await store.countRoom(t, 'channel:general')).toBe(1);
      const partial = await store.roomLeft(member(t, 'channel:general', 'alice', 'l1'), 3000);
      expect(partial.change).toBe('none');
      expect(partial.member.connections).toBe(1);
      expect(await store.roomMember(t, 'channel:general', 'alice')).toEqual({ userId: 'alice', connections: 1, joinedAt: 1000, meta: null });
      const last = await store.roomLeft(member(t, 'channel:general', 'alice', 'l2', 'node-b'), 4000);
      expect(last.change).toBe('leave');
      expect(last.member.connections).toBe(0);
      expect(await store.roomMember(t, 'channel:general', 'alice')).toBeNull();
      expect(await store.countRoom(t, 'channel:general')).toBe(0);
      expect(await store.roomsOf(t, 'alice', 10)).toEqual([]);
    });

    it('joining twice with one connection and leaving with an unknown one change nothing', async () => {
      const t = freshTenant('room');
      await store.roomJoined(member(t, 'channel:a', 'alice', 'l1'), 1000);
      expect((await store.roomJoined(member(t, 'channel:a', 'alice', 'l1'), 2000)).change).toBe('none');
      expect((await store.roomMember(t, 'channel:a', 'alice'))?.connections).toBe(1);
      expect((await store.roomLeft(member(t, 'channel:a', 'alice', 'nope'), 3000)).change).toBe('none');
      expect((await store.roomLeft(member(t, 'channel:a', 'bob', 'l9'), 3000)).change).toBe('none');
      expect((await store.roomLeft(member(t, 'channel:b', 'alice', 'l1'), 3000)).change).toBe('none');
      expect(await store.countRoom(t, 'channel:a')).toBe(1);
      expect(await store.roomMember(t, 'channel:a', 'bob')).toBeNull();
      expect(await store.countRoom(t, 'channel:b')).toBe(0);
      expect((await store.roomLeft(member(t, 'channel:a', 'alice', 'l1'), 4000)).change).toBe('leave');
      expect((await store.roomLeft(member(t, 'channel:a', 'alice', 'l1'), 5000)).change).toBe('none');
    });

    it('rooms of equal names in two tenants are two rooms', async () => {
      const a = freshTenant('room-a');
      const b = freshTenant('room-b');
      await store.roomJoined(member(a, 'channel:general', 'alice', 'l1'), 1000);
      await store.roomJoined(member(b, 'channel:general', 'dave', 'l2'), 1000);
      expect((await store.listRoom(a, 'channel:general', null, 10)).map((m) => m.userId)).toEqual(['alice']);
      expect((await store.listRoom(b, 'channel:general', null, 10)).map((m) => m.userId)).toEqual(['dave']);
      expect(await store.roomMember(b, 'channel:general', 'alice')).toBeNull();
      expect(await store.roomsOf(b, 'alice', 10)).toEqual([]);
    });

    it('keeps server-side metadata; a join without metadata keeps it, one with metadata replaces it', async () => {
      const t = freshTenant('room');
      await store.roomJoined(member(t, 'channel:g', 'alice', 'l1', 'node-a', { role: 'host', level: 3, muted: false }), 1000);
      expect((await store.roomMember(t, 'channel:g', 'alice'))?.meta).toEqual({ role: 'host', level: 3, muted: false });
      await store.roomJoined(member(t, 'channel:g', 'alice', 'l2'), 2000);
      expect((await store.roomMember(t, 'channel:g', 'alice'))?.meta).toEqual({ role: 'host', level: 3, muted: false });
      await store.roomJoined(member(t, 'channel:g', 'alice', 'l3', 'node-a', { role: 'guest' }), 3000);
      const [listed] = await store.listRoom(t, 'channel:g', null, 10);
      expect(listed).toEqual({ userId: 'alice', connections: 3, joinedAt: 1000, meta: { role: 'guest' } });
    });

    it('pages walk every member exactly once, in id order, strictly after the cursor', async () => {
      const t = freshTenant('room');
      const ids = Array.from({ length: 57 }, (_, i) => `u${String(i).padStart(3, '0')}`);
      for (const [i, id] of [...ids].reverse().entries()) await store.roomJoined(member(t, 'channel:big', id, `l${i}`), 1000 + i);
      expect(await store.countRoom(t, 'channel:big')).toBe(57);
      expect(await walkRoom(store, t, 'channel:big', 10)).toEqual(ids);
      expect((await store.listRoom(t, 'channel:big', 'u049', 100)).map((m) => m.userId)).toEqual(ids.slice(50));
      expect(await store.listRoom(t, 'channel:big', 'u056', 100)).toEqual([]);
      expect(await store.listRoom(t, 'channel:big', null, 0)).toEqual([]);
    });

    it('a member present for the whole walk is never skipped while others come and go', async () => {
      const t = freshTenant('room');
      for (let i = 0; i < 30; i += 1) await store.roomJoined(member(t, 'channel:c', `u${String(i).padStart(2, '0')}`, `l${i}`), 1000);
      const seen: string[] = [];
      let after: string | null = null;
      for (let round = 0; round < 100; round += 1) {
        const page: readonly RoomMember[] = await store.listRoom(t, 'channel:c', after, 4);
        seen.push(...page.map((m) => m.userId));
        // Churn: the member just read leaves, a new one arrives behind the cursor.
        if (page.length > 0) await store.roomLeft(member(t, 'channel:c', page[0].userId, `l${Number(page[0].userId.slice(1))}`), 2000);
        await store.roomJoined(member(t, 'channel:c', `a${round}`, `n${round}`), 2000);
        if (page.length < 4) break;
        after = page[page.length - 1].userId;
      }
      const expected = Array.from({ length: 30 }, (_, i) => `u${String(i).padStart(2, '0')}`);
      for (const id of expected) expect(seen.filter((s) => s === id)).toHaveLength(1);
    });

    it('lists the rooms of a user, bounded by the limit', async () => {
      const t = freshTenant('room');
      for (const room of ['channel:c', 'channel:a', 'doc:x', 'channel:b']) await store.roomJoined(member(t, room, 'alice', `l-${room}`), 1000);
      expect(await store.roomsOf(t, 'alice', 10)).toEqual(['channel:a', 'channel:b', 'channel:c', 'doc:x']);
      expect(await store.roomsOf(t, 'alice', 2)).toEqual(['channel:a', 'channel:b']);
      await store.roomLeft(member(t, 'channel:b', 'alice', 'l-channel:b'), 2000);
      expect(await store.roomsOf(t, 'alice', 10)).toEqual(['channel:a', 'channel:c', 'doc:x']);
    });

    it('ids with separators, braces and non-ASCII characters stay apart', async () => {
      const t = freshTenant('room/x:{y}');
      await store.roomJoined(member(t, 'channel:a/b', 'é:{1}', 'l1'), 1000);
      await store.roomJoined(member(t, 'channel:a', 'b/é:{1}', 'l2'), 1000);
      expect((await store.listRoom(t, 'channel:a/b', null, 10)).map((m) => m.userId)).toEqual(['é:{1}']);
      expect((await store.listRoom(t, 'channel:a', null, 10)).map((m) => m.userId)).toEqual(['b/é:{1}']);
    });

    it('concurrent joins and leaves of many connections settle on the right count', async () => {
      const t = freshTenant('room');
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.roomJoined(member(t, 'channel:r', `u${i % 10}`, `l${i}`, i % 2 === 0 ? 'node-a' : 'node-b'), 1000)));
      expect(await store.countRoom(t, 'channel:r')).toBe(10);
      expect((await store.roomMember(t, 'channel:r', 'u3'))?.connections).toBe(4);
      const left = await Promise.all(Array.from({ length: 40 }, (_, i) => store.roomLeft(member(t, 'channel:r', `u${i % 10}`, `l${i}`, i % 2 === 0 ? 'node-a' : 'node-b'), 2000)));
      expect(left.filter((c) => c.change === 'leave')).toHaveLength(10);
      expect(await store.countRoom(t, 'channel:r')).toBe(0);
    });
  });
}
