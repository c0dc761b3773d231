import { Injectable, type MessageEvent, type OnApplicationShutdown } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import { checkResourceId } from '../authorization/resource-id.validator.js';
import type { Principal } from '../interfaces/principal.interface.js';
import { userKey } from '../utils/user-key.js';

/**
 * Tenant-scoped topics for `@Sse()` routes, in this process. A stream subscribes with its
 * principal, so it only ever receives events published to its own tenant's topic: the same
 * topic name in another tenant is another topic, as channels are in `TenantRooms`.
 *
 * ```ts
 * @SseAuthorize('feed:read', { resource: 'topic' })
 * @Sse('feed/:topic')
 * feed(@SsePrincipal() principal: Principal, @Param('topic') topic: string) {
 *   return this.topics.stream(principal, topic);
 * }
 * // elsewhere: this.topics.publish(tenantId, 'ops', { type: 'alert', data: { … } });
 * ```
 * In cluster mode, publish on the node that holds the stream, or on every node (from your own
 * bus): this hub does not cross processes.
 */
@Injectable()
export class SseTopics implements OnApplicationShutdown {
  private readonly subscribers = new Map<string, Set<Subscriber<MessageEvent>>>();

  /** Events of `topic` in the principal's own tenant, until the stream ends. */
  stream(principal: Principal, topic: string): Observable<MessageEvent> {
    const key = this.key(principal.tenantId, topic, 'stream');
    return new Observable<MessageEvent>((subscriber) => {
      let set = this.subscribers.get(key);
      if (set === undefined) {
        set = new Set();
        this.subscribers.set(key, set);
      }
      set.add(subscriber);
      return () => {
        const current = this.subscribers.get(key);
        if (current === undefined) return;
        current.delete(subscriber);
        if (current.size === 0) this.subscribers.delete(key);
      };
    });
  }

  /** Sends an event to the streams of `topic` in `tenantId` on this node; returns how many got it. */
  publish(tenantId: string, topic: string, event: MessageEvent): number {
    const set = this.subscribers.get(this.key(tenantId, topic, 'publish'));
    if (set === undefined) return 0;
    const frozen = Object.freeze({ ...event });
    for (const subscriber of [...set]) subscriber.next(frozen);
    return set.size;
  }

  /** Topics with at least one stream (for leak checks). */
  get topicCount(): number {
    return this.subscribers.size;
  }

  onApplicationShutdown(): void {
    for (const set of this.subscribers.values()) for (const subscriber of [...set]) subscriber.complete();
    this.subscribers.clear();
  }

  private key(tenantId: string, topic: string, method: string): string {
    if (typeof tenantId !== 'string' || tenantId.length === 0 || tenantId.length > 256) throw new TypeError(`SseTopics.${method}: tenantId must be a non-empty string of at most 256 characters.`);
    if (checkResourceId(topic) === null) throw new TypeError(`SseTopics.${method}: topic must be a resource id (letters, digits and _.-, 1..128, starting with a letter or digit).`);
    return userKey(tenantId, topic);
  }
}
