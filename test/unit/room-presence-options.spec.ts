import { InvalidRealtimeSecurityOptionsError, type RealtimeSecurityOptions } from '../../lib/index.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { InMemoryPresenceStore } from '../../lib/presence/in-memory-presence.store.js';
import { TEST_SECRET } from '../support/tokens.js';

const base: RealtimeSecurityOptions = { jwt: { secret: TEST_SECRET } };
const rooms = (value: unknown): RealtimeSecurityOptions => ({ ...base, presence: { rooms: value as NonNullable<RealtimeSecurityOptions['presence']>['rooms'] } });

function refusal(options: RealtimeSecurityOptions): InvalidRealtimeSecurityOptionsError {
  try {
    resolveOptions(options);
  } catch (error) {
    if (error instanceof InvalidRealtimeSecurityOptionsError) return error;
    throw error;
  }
  throw new Error('expected the options to be refused');
}

describe('presence.rooms options', () => {
  it('defaults: off, 100 rooms per connection, no diff', () => {
    const resolved = resolveOptions(base).presence.rooms;
    expect(resolved).toMatchObject({ enabled: false, maxRoomsPerConnection: 100, metadata: null });
    expect(resolved.diff).toMatchObject({ event: 'presence_diff', permission: 'presence:read', intervalMs: 100, snapshotMaxMembers: 1000 });
    expect([...resolved.diff.namespaces]).toEqual([]);
  });

  it('takes valid settings', () => {
    const metadata = () => ({ role: 'host' });
    const resolved = resolveOptions(rooms({ enabled: true, maxRoomsPerConnection: 5, metadata, diff: { namespaces: ['/chat'], event: 'room_diff', permission: 'room:see', intervalMs: 50, snapshotMaxMembers: 0 } })).presence.rooms;
    expect(resolved).toMatchObject({ enabled: true, maxRoomsPerConnection: 5, metadata });
    expect(resolved.diff).toMatchObject({ event: 'room_diff', permission: 'room:see', intervalMs: 50, snapshotMaxMembers: 0 });
  });

  it.each([
    [{ enabled: 'yes' }, 'presence.rooms.enabled'],
    [{ maxRoomsPerConnection: 0 }, 'presence.rooms.maxRoomsPerConnection'],
    [{ maxRoomsPerConnection: 1.5 }, 'presence.rooms.maxRoomsPerConnection'],
    [{ metadata: { role: 'x' } }, 'presence.rooms.metadata'],
    [{ enabled: true, diff: { namespaces: ['chat'] } }, 'presence.rooms.diff.namespaces'],
    [{ diff: { namespaces: ['/chat'] } }, 'presence.rooms.diff.namespaces'],
    [{ enabled: true, diff: { event: 'disconnect' } }, 'presence.rooms.diff.event'],
    [{ enabled: true, diff: { permission: 'presence:read:general' } }, 'presence.rooms.diff.permission'],
    [{ enabled: true, diff: { intervalMs: 5 } }, 'presence.rooms.diff.intervalMs'],
    [{ enabled: true, diff: { snapshotMaxMembers: -1 } }, 'presence.rooms.diff.snapshotMaxMembers'],
  ])('refuses %j at start-up, naming %s', (value, option) => {
    const error = refusal(rooms(value));
    expect(error.message).toContain(option);
  });

  it('with rooms on, a custom presence store must implement the room methods', () => {
    const { roomJoined: _omit, ...partial } = Object.fromEntries(
      ['connectionOpened', 'connectionClosed', 'get', 'listOnline', 'countOnline', 'setPreference', 'getPreference', 'roomJoined', 'roomLeft', 'roomMember', 'listRoom', 'countRoom', 'roomsOf']
        .map((m) => [m, () => undefined]),
    ) as Record<string, () => undefined>;
    void _omit;
    const store = partial as unknown as InMemoryPresenceStore;
    expect(refusal({ ...base, presence: { store, rooms: { enabled: true } } }).message).toContain('roomJoined');
    expect(() => resolveOptions({ ...base, presence: { store, rooms: { enabled: false } } })).not.toThrow();
    expect(() => resolveOptions({ ...base, presence: { store: new InMemoryPresenceStore(), rooms: { enabled: true } } })).not.toThrow();
  });
});
