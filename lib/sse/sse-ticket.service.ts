import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { extractCredential } from '../auth/credential.extractor.js';
import { REDIS_CONNECTION } from '../cluster/cluster.constants.js';
import type { RedisConnection } from '../cluster/redis-connection.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { readModeration } from '../moderation/moderation-read.js';
import { userKey } from '../utils/user-key.js';
import { SseRefusedException } from './sse-refused.exception.js';

/** What `POST /…/stream-ticket` answers. */
export interface StreamTicket {
  /** 256 random bits, base64url; present it once as `?ticket=` on an `@Sse()` route. */
  readonly ticket: string;
  /** How long it is worth anything. */
  readonly expiresInMs: number;
}

/** Tickets held at once on one node (in-memory mode); minting past it drops the oldest. */
const MAX_TICKETS = 100_000;
const TICKET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

interface Held {
  readonly principal: Principal;
  readonly until: number;
}

/**
 * Stream tickets: a browser's `EventSource` cannot send `Authorization`, and a token in a URL
 * leaks through logs, history, referrers and caches. A ticket is minted by an authenticated
 * request (`issueForRequest`: a Bearer header, never a cookie, so a cross-site page cannot mint
 * one), works once, for `sse.tickets.ttlMs` at most (never past the token's own expiry), and is
 * worthless afterwards. Only its SHA-256 is stored (in memory, or in Redis in cluster mode, so a
 * ticket minted on one node opens a stream on another). Never logged.
 */
@Injectable()
export class SseTicketService implements OnModuleDestroy {
  private readonly held = new Map<string, Held>();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(RealtimeAuthenticator) private readonly authenticator: RealtimeAuthenticator,
    @Inject(ModerationStore) private readonly moderation: ModerationStore,
    private readonly events: SecurityEventsService,
    @Optional() @Inject(REDIS_CONNECTION) private readonly redis: RedisConnection | null = null,
  ) {}

  get enabled(): boolean {
    return this.options.sse.tickets.enabled;
  }

  /**
   * Authenticates the request's `Authorization: Bearer` header with the module's authenticator
   * (not banned, unexpired) and mints a ticket for that principal. Throws `SseRefusedException`
   * (401 `UNAUTHORIZED` / `TOKEN_EXPIRED`, 403 `BANNED`, 404 when tickets are off).
   */
  async issueForRequest(request: { readonly headers: IncomingHttpHeaders; readonly socket?: { readonly remoteAddress?: string } }): Promise<StreamTicket> {
    if (!this.enabled) throw new SseRefusedException(SecurityErrorCode.NOT_FOUND);
    const extracted = extractCredential(undefined, request.headers, { authPayload: false, authorizationHeader: true, cookieName: null });
    if (extracted === null || extracted === 'malformed') throw new SseRefusedException(SecurityErrorCode.UNAUTHORIZED);
    let principal: Principal | null;
    try {
      principal = await this.authenticator.authenticate({
        credential: extracted.credential, source: extracted.source, namespace: 'stream-ticket',
        address: request.socket?.remoteAddress ?? '', headers: request.headers,
      });
    } catch (error) {
      // TOKEN_EXPIRED, and SERVICE_UNAVAILABLE while no `jwt.jwks` key set could be fetched, keep their codes.
      if (error instanceof WsSecurityException) {
        const kept = error.code === SecurityErrorCode.TOKEN_EXPIRED || error.code === SecurityErrorCode.SERVICE_UNAVAILABLE;
        throw new SseRefusedException(kept ? error.code : SecurityErrorCode.UNAUTHORIZED);
      }
      throw new SseRefusedException(SecurityErrorCode.SERVICE_UNAVAILABLE);
    }
    if (principal === null) throw new SseRefusedException(SecurityErrorCode.UNAUTHORIZED);
    if (principal.expiresAt + this.options.tokens.graceMs <= Date.now()) throw new SseRefusedException(SecurityErrorCode.TOKEN_EXPIRED);
    const { ban } = await readModeration(this.moderation, userKey(principal.tenantId, principal.userId));
    if (ban !== null) {
      this.events.emit({ kind: 'banned', code: SecurityErrorCode.BANNED, userId: principal.userId, tenantId: principal.tenantId, namespace: 'stream-ticket' });
      throw new SseRefusedException(SecurityErrorCode.BANNED);
    }
    return this.issue(principal);
  }

  /** Mints a ticket for a principal your own code has authenticated. */
  async issue(principal: Principal): Promise<StreamTicket> {
    if (!this.enabled) throw new SseRefusedException(SecurityErrorCode.NOT_FOUND);
    const now = Date.now();
    const expiresInMs = Math.min(this.options.sse.tickets.ttlMs, principal.expiresAt + this.options.tokens.graceMs - now);
    if (expiresInMs <= 0) throw new SseRefusedException(SecurityErrorCode.TOKEN_EXPIRED);
    const ticket = randomBytes(32).toString('base64url');
    const stored: Principal = Object.freeze({
      userId: principal.userId, tenantId: principal.tenantId, permissions: Object.freeze([...principal.permissions]),
      expiresAt: principal.expiresAt, ...(principal.tokenId !== undefined ? { tokenId: principal.tokenId } : {}),
    });
    if (this.redis !== null) {
      try {
        await this.redis.commands.set(this.redisKey(ticket), JSON.stringify(stored), 'PX', expiresInMs);
      } catch {
        throw new SseRefusedException(SecurityErrorCode.SERVICE_UNAVAILABLE);
      }
    } else {
      this.sweep(now);
      if (this.held.size >= MAX_TICKETS) {
        const oldest = this.held.keys().next().value;
        if (oldest !== undefined) this.held.delete(oldest);
      }
      this.held.set(digest(ticket), { principal: stored, until: now + expiresInMs });
    }
    return Object.freeze({ ticket, expiresInMs });
  }

  /** The principal a ticket was minted for, once; `null` for an unknown, used or expired ticket. */
  async redeem(ticket: string): Promise<Principal | null> {
    if (!this.enabled || typeof ticket !== 'string' || !TICKET_SHAPE.test(ticket)) return null;
    if (this.redis !== null) {
      const raw = await this.redis.commands.getdel(this.redisKey(ticket));
      return raw === null ? null : parsePrincipal(raw);
    }
    const key = digest(ticket);
    const held = this.held.get(key);
    if (held === undefined) return null;
    this.held.delete(key);
    return held.until > Date.now() ? held.principal : null;
  }

  /** Tickets held in memory now (0 in cluster mode, where Redis expires them). */
  get size(): number {
    return this.held.size;
  }

  onModuleDestroy(): void {
    this.held.clear();
  }

  /** Drops expired tickets from the front (insertion order is expiry order, the TTL being fixed). */
  private sweep(now: number): void {
    for (const [key, held] of this.held) {
      if (held.until > now) return;
      this.held.delete(key);
    }
  }

  /** Only the ticket's hash is a key: a Redis dump or `MONITOR` never shows a usable ticket. */
  private redisKey(ticket: string): string {
    return `${(this.redis as RedisConnection).keys.prefix}sse-ticket:${digest(ticket)}`;
  }
}

function digest(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}

function parsePrincipal(raw: string): Principal | null {
  try {
    const p = JSON.parse(raw) as Record<string, unknown>;
    if (typeof p.userId !== 'string' || typeof p.tenantId !== 'string' || !Array.isArray(p.permissions) || typeof p.expiresAt !== 'number') return null;
    return Object.freeze({
      userId: p.userId, tenantId: p.tenantId, permissions: Object.freeze(p.permissions.filter((x): x is string => typeof x === 'string')),
      expiresAt: p.expiresAt, ...(typeof p.tokenId === 'string' ? { tokenId: p.tokenId } : {}),
    });
  } catch {
    return null;
  }
}
