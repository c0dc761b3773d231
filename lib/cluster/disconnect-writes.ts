import type { RedisConnection } from './redis-connection.js';
import { LEASE_RELEASE, LEASE_RELEASE_PRESENCE_CLOSE, PRESENCE_CLOSE } from './redis-scripts.js';

type Args = readonly (string | number)[];

interface Waiter {
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

interface PendingRelease extends Waiter {
  readonly keys: readonly string[];
  readonly args: Args;
  /** EVAL rather than EVALSHA (behind an acquire of unknown outcome: see `RedisScript.runOnce`). */
  readonly once: boolean;
}

interface PendingClose extends Waiter {
  readonly keys: readonly string[];
  readonly args: Args;
}

interface Pending {
  release?: PendingRelease;
  close?: PendingClose;
}

/**
 * The two Redis writes of a connection's end, in one round trip when they can be: the lease
 * store's slot release and the presence store's close of the same connection are issued in the
 * same event-loop turn (the lifecycle releases the slot and reports the close together), so each
 * waits for the end of the turn (`setImmediate`), and a release and a close of the same node,
 * user and lease then run as LEASE_RELEASE_PRESENCE_CLOSE (their keys share the user's hash
 * tag). Anything alone runs as its own script. Each caller gets the reply or the error it would
 * have had on its own, so the stores' failure handling (deferred releases, retried closes) is
 * unchanged; the two writes being atomic together is only stronger than one after the other.
 */
export class DisconnectWrites {
  private readonly pending = new Map<string, Pending>();
  private scheduled = false;

  constructor(private readonly redis: RedisConnection) {}

  /** LEASE_RELEASE (KEYS: user leases, node leases; ARGV: lease id, node-index field). */
  release(nodeId: string, userKey: string, leaseId: string, keys: readonly string[], args: Args, once: boolean): Promise<void> {
    return new Promise<unknown>((resolve, reject) => {
      const entry = this.entry(nodeId, userKey, leaseId);
      // The same slot released twice in one turn: the first goes alone.
      if (entry.release !== undefined) this.runRelease(entry.release);
      entry.release = { keys, args, once, resolve, reject };
    }).then(() => undefined);
  }

  /** PRESENCE_CLOSE (its KEYS and ARGV); resolves with its reply. */
  close(nodeId: string, userKey: string, leaseId: string, keys: readonly string[], args: Args): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const entry = this.entry(nodeId, userKey, leaseId);
      if (entry.close !== undefined) this.runClose(entry.close);
      entry.close = { keys, args, resolve, reject };
    });
  }

  private entry(nodeId: string, userKey: string, leaseId: string): Pending {
    const id = `${nodeId}\n${userKey}\n${leaseId}`;
    let entry = this.pending.get(id);
    if (entry === undefined) {
      entry = {};
      this.pending.set(id, entry);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return entry;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = [...this.pending.values()];
    this.pending.clear();
    for (const { release, close } of batch) {
      if (release !== undefined && close !== undefined) {
        const keys = [...release.keys, ...close.keys];
        const args = [...release.args, ...close.args];
        const { commands } = this.redis;
        const script = LEASE_RELEASE_PRESENCE_CLOSE;
        (release.once ? script.runOnce(commands, keys, args) : script.run(commands, keys, args)).then(
          (reply) => {
            release.resolve(undefined);
            close.resolve(reply);
          },
          (error: unknown) => {
            release.reject(error);
            close.reject(error);
          },
        );
        continue;
      }
      if (release !== undefined) this.runRelease(release);
      if (close !== undefined) this.runClose(close);
    }
  }

  private runRelease(release: PendingRelease): void {
    const { commands } = this.redis;
    settle(release, release.once ? LEASE_RELEASE.runOnce(commands, release.keys, release.args) : LEASE_RELEASE.run(commands, release.keys, release.args));
  }

  private runClose(close: PendingClose): void {
    settle(close, PRESENCE_CLOSE.run(this.redis.commands, close.keys, close.args));
  }
}

function settle(waiter: Waiter, reply: Promise<unknown>): void {
  reply.then(waiter.resolve, waiter.reject);
}
