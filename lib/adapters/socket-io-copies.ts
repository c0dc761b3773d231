import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One installed copy of socket.io. */
export interface SocketIoCopy {
  readonly version: string;
  /** Its folder. */
  readonly path: string;
}

/** The copy the library loads and the one `@nestjs/platform-socket.io` (`IoAdapter`) loads. */
export interface SocketIoCopies {
  readonly library: SocketIoCopy;
  readonly nest: SocketIoCopy;
}

function copyAt(entry: string): SocketIoCopy {
  // From the resolved entry file up to the folder holding socket.io's own package.json.
  for (let dir = dirname(entry); dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'socket.io') return { version: pkg.version ?? 'unknown', path: dir };
    } catch {
      // no package.json here: keep climbing
    }
  }
  return { version: 'unknown', path: dirname(entry) };
}

/**
 * Two copies of socket.io, when the library (resolving from `from`, its own location) and
 * `@nestjs/platform-socket.io` load different ones; `undefined` when they share one, or when
 * either cannot be resolved (then loading the library itself fails with Node's own error).
 */
export function duplicateSocketIo(from: string | URL = import.meta.url): SocketIoCopies | undefined {
  try {
    const requireHere = createRequire(from);
    const library = requireHere.resolve('socket.io');
    const nest = createRequire(requireHere.resolve('@nestjs/platform-socket.io')).resolve('socket.io');
    if (library === nest) return undefined;
    return { library: copyAt(library), nest: copyAt(nest) };
  } catch {
    return undefined;
  }
}

/** The start-up warning for two copies: what they are and what to change. */
export function duplicateSocketIoMessage(copies: SocketIoCopies): string {
  return `Two copies of socket.io are installed: ${copies.library.version} (${copies.library.path}), which nestjs-realtime-security loads, ` +
    `and ${copies.nest.version} (${copies.nest.path}), which @nestjs/platform-socket.io loads. Both work at run time, but their types are separate ` +
    `declarations (with skipLibCheck off, SecureIoAdapter can fail to type-check against IoAdapter: TS2416). Remove socket.io from your own dependencies, or set it to ` +
    `exactly ${copies.nest.version}, the version @nestjs/platform-socket.io depends on; \`npm ls socket.io\` should then list one copy.`;
}
