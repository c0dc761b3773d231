import { InMemoryConnectionLeaseStore, InMemoryModerationStore, InMemoryPresenceStore } from '../../lib/index.js';
import { describeConnectionLeaseStoreContract } from './connection-lease-store.contract.js';
import { describePresenceStoreContract, describeRoomPresenceStoreContract } from './presence-store.contract.js';

describeConnectionLeaseStoreContract('in-memory', () => new InMemoryConnectionLeaseStore());
describePresenceStoreContract('in-memory', () => new InMemoryPresenceStore());
describeRoomPresenceStoreContract('in-memory', () => new InMemoryPresenceStore());

describe('in-memory moderation store', () => {
  it('reads the ban and the override in one call, the same as the two reads; an ended ban is none', async () => {
    const store = new InMemoryModerationStore();
    const both = async (key: string) => ({ ban: await store.getBan(key), permissions: await store.getPermissions(key) });
    await store.ban('m/a', { until: null, reason: 'spam' });
    await store.setPermissions('m/a', ['channel:read']);
    await store.ban('m/b', { until: Date.now() - 1 });
    await store.setPermissions('m/c', []);
    for (const key of ['m/none', 'm/a', 'm/b', 'm/c']) expect(await store.getModeration(key)).toEqual(await both(key));
    expect(await store.getModeration('m/a')).toEqual({ ban: { until: null, reason: 'spam' }, permissions: ['channel:read'] });
    expect(await store.getModeration('m/b')).toEqual({ ban: null, permissions: null });
  });
});
