import { Injectable } from '@nestjs/common';
import type { BanRecord, ModerationRecord, ModerationStore } from '../interfaces/moderation-store.interface.js';

/** Single-process bans and permission overrides. Expired bans are dropped when read. */
@Injectable()
export class InMemoryModerationStore implements ModerationStore {
  private readonly bans = new Map<string, BanRecord>();
  private readonly permissions = new Map<string, readonly string[]>();

  async ban(userKey: string, record: BanRecord): Promise<void> {
    this.bans.set(userKey, Object.freeze({ ...record }));
  }

  async unban(userKey: string): Promise<void> {
    this.bans.delete(userKey);
  }

  async getBan(userKey: string): Promise<BanRecord | null> {
    return this.activeBan(userKey);
  }

  async getModeration(userKey: string): Promise<ModerationRecord> {
    return { ban: this.activeBan(userKey), permissions: this.permissions.get(userKey) ?? null };
  }

  private activeBan(userKey: string): BanRecord | null {
    const record = this.bans.get(userKey);
    if (record === undefined) return null;
    if (record.until !== null && record.until <= Date.now()) {
      this.bans.delete(userKey);
      return null;
    }
    return record;
  }

  async setPermissions(userKey: string, permissions: readonly string[] | null): Promise<void> {
    if (permissions === null) this.permissions.delete(userKey);
    else this.permissions.set(userKey, Object.freeze([...permissions]));
  }

  async getPermissions(userKey: string): Promise<readonly string[] | null> {
    return this.permissions.get(userKey) ?? null;
  }
}
