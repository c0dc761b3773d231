/**
 * Where per-user connection slots are counted. Implementations must make `acquire`
 * atomic (check and take in one step) and `release` idempotent.
 */
export interface ConnectionLeaseStore {
  /** Takes a slot for `userKey` if it holds fewer than `max`; `false` when full. */
  acquire(userKey: string, leaseId: string, max: number): Promise<boolean>;
  /** Gives the slot back; releasing an unknown or already released lease does nothing. */
  release(userKey: string, leaseId: string): Promise<void>;
  /** How many slots `userKey` holds now. */
  count(userKey: string): Promise<number>;
}

/** Injection token of the active {@link ConnectionLeaseStore}. */
export const ConnectionLeaseStore = Symbol('ConnectionLeaseStore');
