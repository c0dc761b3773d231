import { Injectable } from '@nestjs/common';
import type { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';

/** Single-process lease store: exact because Node runs each call to completion. */
@Injectable()
export class InMemoryConnectionLeaseStore implements ConnectionLeaseStore {
  private readonly leases = new Map<string, Set<string>>();

  async acquire(userKey: string, leaseId: string, max: number): Promise<boolean> {
    let held = this.leases.get(userKey);
    if (held === undefined) {
      held = new Set();
      this.leases.set(userKey, held);
    }
    if (held.has(leaseId)) return true;
    if (held.size >= max) {
      if (held.size === 0) this.leases.delete(userKey);
      return false;
    }
    held.add(leaseId);
    return true;
  }

  async release(userKey: string, leaseId: string): Promise<void> {
    const held = this.leases.get(userKey);
    if (held === undefined) return;
    held.delete(leaseId);
    if (held.size === 0) this.leases.delete(userKey);
  }

  async count(userKey: string): Promise<number> {
    return this.leases.get(userKey)?.size ?? 0;
  }

  /** Number of users holding at least one lease (for leak checks). */
  get userCount(): number {
    return this.leases.size;
  }
}
