import { Injectable } from '@nestjs/common';

interface Watched {
  epoch: number;
  watchers: number;
}

/** A handshake's (or refresh's) view of one user's moderation epoch. */
export interface ModerationWatch {
  /** True when a moderation change of the user was applied on this node since the watch started (or the last `reset`). */
  changed(): boolean;
  /** Takes the current epoch as seen (call it right before reading the store again). */
  reset(): void;
  /** Ends the watch (idempotent); the user's entry goes once nobody watches it. */
  end(): void;
}

/**
 * Per-user moderation epochs, counted on this node while a handshake or token refresh of the
 * user is in flight. `ModerationService` bumps a user's epoch whenever it applies a ban or a
 * permission change for them, whether made on this node or received from another; the
 * handshake watches the epoch from before it reads the moderation store until its socket opens,
 * and reads again when it moved. A change that lands between that read and the open is
 * therefore never lost: it is either seen by the re-read or applied to the open socket.
 * Memory: one entry per user with a handshake in flight, none otherwise. Internal.
 */
@Injectable()
export class ModerationEpochs {
  private readonly users = new Map<string, Watched>();

  /** Starts watching `userKey`'s epoch. */
  watch(userKey: string): ModerationWatch {
    let entry = this.users.get(userKey);
    if (entry === undefined) {
      entry = { epoch: 0, watchers: 0 };
      this.users.set(userKey, entry);
    }
    entry.watchers += 1;
    const watched = entry;
    let seen = watched.epoch;
    let ended = false;
    return {
      changed: () => watched.epoch !== seen,
      reset: () => {
        seen = watched.epoch;
      },
      end: () => {
        if (ended) return;
        ended = true;
        watched.watchers -= 1;
        if (watched.watchers === 0 && this.users.get(userKey) === watched) this.users.delete(userKey);
      },
    };
  }

  /** A moderation change of the user was applied here: watchers must read again. */
  bump(userKey: string): void {
    const entry = this.users.get(userKey);
    if (entry !== undefined) entry.epoch += 1;
  }

  /** Users watched now (zero when no handshake is in flight). */
  get size(): number {
    return this.users.size;
  }
}
