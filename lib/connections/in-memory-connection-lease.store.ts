import { Injectable } from '@nestjs/common';
import type { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';

/** Single-process lease store: exact because Node runs each call to completion. */
@Injectable()
export class InMemoryConnectionLeaseStore implements ConnectionLeaseStore {
  /** Lease ids per user key: the id itself for a user's only lease (the usual case), a set past one. */
  private readonly leases = new Map<string, string | Set<string>>();

  async acquire(userKey: string, leaseId: string, max: number): Promise<boolean> {
    const held = this.leases.get(userKey);
    if (held === leaseId || (typeof held === 'object' && held.has(leaseId))) return true;
    if (sizeOf(held) >= max) return false;
    if (held === undefined) this.leases.set(userKey, leaseId);
    else if (typeof held === 'string') this.leases.set(userKey, new Set([held, leaseId]));
    else held.add(leaseId);
    return true;
  }

  async release(userKey: string, leaseId: string): Promise<void> {
    const held = this.leases.get(userKey);
    if (held === undefined) return;
    if (typeof held === 'string') {
      if (held === leaseId) this.leases.delete(userKey);
      return;
    }
    held.delete(leaseId);
    if (held.size === 0) this.leases.delete(userKey);
  }

  async count(userKey: string): Promise<number> {
    return sizeOf(this.leases.get(userKey));
  }

  /** Number of users holding at least one lease (for leak checks). */
  get userCount(): number {
    return this.leases.size;
  }
}

function sizeOf(held: string | Set<string> | undefined): number {
  return held === undefined ? 0 : typeof held === 'string' ? 1 : held.size;
}
