import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import 'reflect-metadata';
import { WsSkipThrottle, WsThrottle } from '../../lib/index.js';

const run = promisify(execFile);

type Entries = [string, unknown][];

/**
 * `@nestjs/throttler` is CommonJS and `require`s the ESM-only `@nestjs/common`, which Jest cannot
 * load on this Node version; plain Node can. So its decorators run in a child process and the
 * metadata they write is compared with what `WsThrottlerGuard` reads (through `@WsThrottle` and
 * `@WsSkipThrottle`, which write the same keys): the two must stay interchangeable.
 */
async function throttlerMetadata(): Promise<{ throttle: Entries; skip: Entries }> {
  const script = `
    import 'reflect-metadata';
    import { Throttle, SkipThrottle } from '@nestjs/throttler';
    const entries = (f) => Reflect.getMetadataKeys(f).filter((k) => k.startsWith('THROTTLER:')).sort().map((k) => [k, Reflect.getMetadata(k, f) ?? null]);
    class G { a() {} b() {} }
    const a = Object.getOwnPropertyDescriptor(G.prototype, 'a');
    Throttle({ default: { limit: 3, ttl: 1000, blockDuration: 500 } })(G.prototype, 'a', a);
    const b = Object.getOwnPropertyDescriptor(G.prototype, 'b');
    SkipThrottle()(G.prototype, 'b', b);
    console.log(JSON.stringify({ throttle: entries(a.value), skip: entries(b.value) }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '--no-warnings', '-e', script], { cwd: process.cwd(), timeout: 20_000 });
  return JSON.parse(stdout) as { throttle: Entries; skip: Entries };
}

function ownEntries(f: object): Entries {
  return Reflect.getMetadataKeys(f)
    .filter((k): k is string => typeof k === 'string' && k.startsWith('THROTTLER:'))
    .sort()
    .map((k) => [k, (Reflect.getMetadata(k, f) as unknown) ?? null]);
}

describe("@nestjs/throttler's decorators and ours write the same metadata", () => {
  it('@Throttle({ default }) == @WsThrottle, @SkipThrottle() == @WsSkipThrottle()', async () => {
    class G {
      a() {}
      b() {}
    }
    const a = Object.getOwnPropertyDescriptor(G.prototype, 'a') as PropertyDescriptor;
    WsThrottle({ limit: 3, ttl: 1000, blockDuration: 500 })(G.prototype, 'a', a);
    const b = Object.getOwnPropertyDescriptor(G.prototype, 'b') as PropertyDescriptor;
    WsSkipThrottle()(G.prototype, 'b', b);
    const theirs = await throttlerMetadata();
    // Theirs also records an (undefined) tracker and key generator: ours has no use for them.
    const relevant = (entries: Entries) => entries.filter(([k]) => !k.startsWith('THROTTLER:TRACKER') && !k.startsWith('THROTTLER:KEY_GENERATOR'));
    expect(ownEntries(a.value as object)).toEqual(relevant(theirs.throttle));
    expect(ownEntries(b.value as object)).toEqual(relevant(theirs.skip));
    expect(relevant(theirs.throttle).map(([k]) => k)).toEqual(['THROTTLER:BLOCK_DURATIONdefault', 'THROTTLER:LIMITdefault', 'THROTTLER:TTLdefault']);
  });
});
