import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { Inject, Injectable } from '@nestjs/common';
import { normalizeAddress } from '../utils/normalize-address.js';
import type { EngineGate } from '../adapters/handshake.pipeline.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';

interface Bucket {
  tokens: number;
  at: number;
  /** A refusal was reported since the last accepted handshake (one event per flood, not per request). */
  reported: boolean;
}

/**
 * Handshakes per address: a token bucket per address (`rateLimit.handshakesPerAddress` per
 * `rateLimit.handshakeWindowMs`, bursting up to the same number), checked on the first HTTP
 * request of every Engine.IO connection, before anything else. A refused request gets HTTP 403
 * with the message `RATE_LIMITED`; other addresses are unaffected. IPv6 addresses count per /64
 * (one host usually holds the whole prefix). Memory is bounded: at most
 * `rateLimit.maxTrackedAddresses` buckets, the least recently used forgotten first (a forgotten
 * bucket would have refilled anyway unless its address keeps coming, which keeps it recent).
 * A burst is allowed: a full bucket admits `handshakesPerAddress` at once (a reconnect storm of
 * that many clients from one address passes), then refills evenly over the window.
 * Behind a reverse proxy every client shares the proxy's address: name the proxy in
 * `rateLimit.trustedProxies` and each client is counted by the address the proxy puts in
 * `X-Forwarded-For` (never trusted from any other peer), or limit at the proxy and set the limit to 0.
 */
@Injectable()
export class HandshakeRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** The most recently used key: already last in recency order, so it is not moved again. */
  private lastKey: string | undefined;
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly maxTracked: number;
  private readonly trustedProxies: ReadonlySet<string>;

  constructor(
    @Inject(RESOLVED_OPTIONS) options: ResolvedRealtimeSecurityOptions,
    private readonly events: SecurityEventsService,
  ) {
    const { handshakesPerAddress, handshakeWindowMs, maxTrackedAddresses } = options.rateLimit;
    this.capacity = handshakesPerAddress;
    this.perMs = handshakesPerAddress / handshakeWindowMs;
    this.maxTracked = maxTrackedAddresses;
    this.trustedProxies = new Set(options.rateLimit.trustedProxies);
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  /** Addresses tracked now (bounded by `rateLimit.maxTrackedAddresses`). */
  get trackedAddresses(): number {
    return this.buckets.size;
  }

  /** Takes one handshake from the address's bucket; `false` when it is empty. */
  tryAcquire(remoteAddress: string | undefined, now = Date.now()): boolean {
    if (!this.enabled) return true;
    const key = addressKey(remoteAddress);
    const bucket = this.buckets.get(key);
    let tokens = this.capacity;
    let reported = false;
    if (bucket !== undefined) {
      tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * this.perMs);
      reported = bucket.reported;
    } else if (this.buckets.size >= this.maxTracked) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    const allowed = tokens >= 1;
    if (bucket !== undefined && key === this.lastKey) {
      // The same address again (a busy client, or a proxy): updated in place, already the most recent.
      bucket.tokens = allowed ? tokens - 1 : tokens;
      bucket.at = now;
      bucket.reported = !allowed;
    } else {
      // Map order is recency order (the first key is the least recent): re-inserted last.
      if (bucket !== undefined) this.buckets.delete(key);
      this.buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now, reported: !allowed });
      this.lastKey = key;
    }
    if (!allowed && !reported) {
      this.events.emit({ kind: 'handshake_refused', code: SecurityErrorCode.RATE_LIMITED, address: key });
    }
    return allowed;
  }

  /**
   * The address a handshake is counted against: the TCP peer, or, when the peer is a trusted
   * proxy, the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (the peer
   * when the header is missing or an entry is not an IP address). Socket.IO CONNECT packets are
   * charged to the same address (`ConnectRateLimiter`).
   */
  clientAddress(req: IncomingMessage): string | undefined {
    const peer = req.socket.remoteAddress;
    if (this.trustedProxies.size === 0 || peer === undefined || !this.trustedProxies.has(normalizeAddress(peer))) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((hop) => hop.trim()).filter((hop) => hop.length > 0);
    for (let i = hops.length - 1; i >= 0; i -= 1) {
      const hop = hops[i] as string;
      if (isIP(hop) === 0) return peer;
      if (!this.trustedProxies.has(normalizeAddress(hop))) return hop;
    }
    return peer;
  }

  /** `inner` behind the per-address limit: a refusal never reaches it. */
  gate(inner: EngineGate): EngineGate {
    if (!this.enabled) return inner;
    return (req, callback) => {
      if (!this.tryAcquire(this.clientAddress(req))) {
        callback(SecurityErrorCode.RATE_LIMITED, false);
        return;
      }
      inner(req, callback);
    };
  }
}

/** IPv4 as is (also when IPv4-mapped); IPv6 by its /64 prefix. */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || remoteAddress === '') return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remoteAddress);
  if (mapped !== null) return mapped[1];
  if (isIP(remoteAddress) !== 6) return remoteAddress;
  const [head, tail = ''] = remoteAddress.split('%')[0].toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = remoteAddress.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
