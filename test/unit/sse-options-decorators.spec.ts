import { resolveOptions } from '../../lib/module/options.validator.js';
import { InvalidRealtimeSecurityOptionsError } from '../../lib/module/invalid-options.error.js';
import { SseAuthorize, SsePublic } from '../../lib/index.js';
import { readSseRule } from '../../lib/sse/sse-access-rule.js';

const base = { jwt: { secret: 'unit-secret-that-is-long-enough-for-hs256-0123456789' } };

describe('sse options', () => {
  it('fills the defaults', () => {
    expect(resolveOptions(base).sse).toEqual({ heartbeatMs: 15_000, maxBufferedBytes: 1024 * 1024, maxLifetimeMs: 0, idleTimeoutMs: 0, tickets: { enabled: true, ttlMs: 10_000, queryParameter: 'ticket' } });
  });

  it.each([
    [{ heartbeatMs: 10 }, 'sse.heartbeatMs'],
    [{ maxBufferedBytes: 1 }, 'sse.maxBufferedBytes'],
    [{ maxLifetimeMs: 5 }, 'sse.maxLifetimeMs'],
    [{ idleTimeoutMs: -1 }, 'sse.idleTimeoutMs'],
    [{ tickets: { ttlMs: 120_000 } }, 'sse.tickets.ttlMs'],
    [{ tickets: { enabled: 'yes' } }, 'sse.tickets.enabled'],
    [{ tickets: { queryParameter: 'token' } }, 'sse.tickets.queryParameter'],
    [{ tickets: { queryParameter: 'a b' } }, 'sse.tickets.queryParameter'],
  ])('refuses %j at start-up, naming %s', (sse, option) => {
    expect(() => resolveOptions({ ...base, sse: sse as never })).toThrow(InvalidRealtimeSecurityOptionsError);
    expect(() => resolveOptions({ ...base, sse: sse as never })).toThrow(option);
  });
});

describe('@SseAuthorize / @SsePublic', () => {
  it('stores the rule; the method beats the class; none is denied', () => {
    @SseAuthorize('feed:read')
    class Feeds {
      @SsePublic()
      open(): void {}

      @SseAuthorize('feed:read', { resource: 'topic' })
      topic(): void {}

      plain(): void {}
    }
    const proto = Feeds.prototype as unknown as Record<string, object>;
    expect(readSseRule(proto.open as object, Feeds)).toEqual({ kind: 'public' });
    expect(readSseRule(proto.topic as object, Feeds)).toMatchObject({ kind: 'permission', permission: 'feed:read', resource: 'topic' });
    expect(readSseRule(proto.plain as object, Feeds)).toMatchObject({ kind: 'permission', permission: 'feed:read' });
    expect(readSseRule(proto.plain as object, class Other {})).toEqual({ kind: 'denied' });
  });

  it('refuses a wildcard or malformed permission, a bad resource, and two rules on one method', () => {
    expect(() => SseAuthorize('feed:*')).toThrow(/not a permission/);
    expect(() => SseAuthorize('feed')).toThrow(/not a permission/);
    expect(() => SseAuthorize('feed:read', { resource: '__proto__' })).toThrow(/resource/);
    expect(() => SseAuthorize('feed:read:ops', { resource: 'topic' })).toThrow(/fixed instance/);
    expect(() => {
      class Twice {
        @SsePublic()
        @SseAuthorize('feed:read')
        m(): void {}
      }
      return Twice;
    }).toThrow(/exactly one access decorator/);
  });
});
