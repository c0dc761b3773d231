import type { ModerationRecord, ModerationStore } from '../interfaces/moderation-store.interface.js';

/** A user's ban and permission override: in one read when the store offers it, else the two reads. */
export async function readModeration(store: ModerationStore, userKey: string): Promise<ModerationRecord> {
  if (typeof store.getModeration === 'function') return store.getModeration(userKey);
  const [ban, permissions] = await Promise.all([store.getBan(userKey), store.getPermissions(userKey)]);
  return { ban, permissions };
}
