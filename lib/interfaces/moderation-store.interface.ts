/** A ban as stored: until when (epoch ms), or `null` for indefinitely. */
export interface BanRecord {
  readonly until: number | null;
  readonly reason?: string;
}

/**
 * Bans and permission overrides, keyed by user key (tenant + user). The in-memory store is the
 * default; cluster mode swaps in a Redis one so every node sees the same answers.
 */
export interface ModerationStore {
  ban(userKey: string, record: BanRecord): Promise<void>;
  unban(userKey: string): Promise<void>;
  /** The active ban, or `null` (an expired ban is not active). */
  getBan(userKey: string): Promise<BanRecord | null>;
  /** Replaces the permissions of a user; `null` removes the override. */
  setPermissions(userKey: string, permissions: readonly string[] | null): Promise<void>;
  getPermissions(userKey: string): Promise<readonly string[] | null>;
  /**
   * Optional: `getBan` and `getPermissions` in one read (one round trip for a remote store). Every
   * handshake reads both; without this method it calls the two.
   */
  getModeration?(userKey: string): Promise<ModerationRecord>;
}

/** A user's moderation state: the active ban, or `null`, and the permission override, or `null`. */
export interface ModerationRecord {
  readonly ban: BanRecord | null;
  readonly permissions: readonly string[] | null;
}

/** Injection token of the active {@link ModerationStore}. */
export const ModerationStore = Symbol('ModerationStore');
