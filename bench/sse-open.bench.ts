/**
 * Server CPU per SSE stream open: an `@Sse()` route under the module (Bearer JWT, rate limit,
 * moderation read, `@SseAuthorize`, a slot of the per-user ceiling, presence, heartbeat,
 * release) against the same route in a bare Nest app. Each server is a child process that
 * reports its own `process.cpuUsage()`; rounds are interleaved; the client is this process.
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/sse-open.bench.js
 *
 * Prints µs of server CPU per stream open (median of rounds) and the ratio secured/bare.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Module, Sse, type MessageEvent } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { NEVER, type Observable } from 'rxjs';
import { RealtimeSecurityModule } from '../lib/module/realtime-security.module.js';
import { SseAuthorize } from '../lib/sse/sse-authorize.decorator.js';

const SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
const ROUNDS = 7;
const OPENS_PER_ROUND = 400;
const CONCURRENCY = 8;

@Controller()
class BareController {
  @Sse('stream')
  stream(): Observable<MessageEvent> {
    return NEVER;
  }

  @Get('cpu')
  cpu() {
    const { user, system } = process.cpuUsage();
    return { us: user + system };
  }
}

@Controller()
class SecuredController {
  @SseAuthorize('notifications:read')
  @Sse('stream')
  stream(): Observable<MessageEvent> {
    return NEVER;
  }

  @Get('cpu')
  cpu() {
    const { user, system } = process.cpuUsage();
    return { us: user + system };
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

@Module({
  imports: [RealtimeSecurityModule.forRoot({
    jwt: { secret: SECRET }, logSecurityEvents: false, logInventory: false,
    connections: { maxPerUser: 10 }, rateLimit: { handshakesPerAddress: 1_000_000 },
  })],
  controllers: [SecuredController],
})
class SecuredModule {}

async function serve(kind: string): Promise<void> {
  const app = await NestFactory.create(kind === 'secured' ? SecuredModule : BareModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.send?.({ port });
}

function start(kind: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

function cpuOf(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/cpu', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve((JSON.parse(body) as { us: number }).us));
    }).on('error', reject);
  });
}

/** Opens one stream, waits for its first byte, closes it. */
function openOnce(port: number, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/stream', agent: false, headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream refused: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
  });
}

async function round(port: number, tokens: readonly string[]): Promise<number> {
  const before = await cpuOf(port);
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < OPENS_PER_ROUND) {
      const i = next++;
      await openOnce(port, tokens[i % tokens.length] as string);
    }
  }));
  const after = await cpuOf(port);
  return (after - before) / OPENS_PER_ROUND;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') {
    await serve(process.argv[3] ?? 'bare');
    return;
  }
  const jwt = new JwtService();
  const exp = Math.floor(Date.now() / 1000) + 3600;
  // One user per concurrent stream slot: the ceiling (10) is never the limit here.
  const tokens = Array.from({ length: 200 }, (_, i) => jwt.sign({ sub: `u${i}`, tenant: 'bench', perms: ['notifications:read'], exp }, { secret: SECRET, algorithm: 'HS256' }));
  const bare = await start('bare');
  const secured = await start('secured');
  try {
    // Warm-up, then interleaved rounds.
    await round(bare.port, tokens);
    await round(secured.port, tokens);
    const results = { bare: [] as number[], secured: [] as number[] };
    for (let r = 0; r < ROUNDS; r += 1) {
      results.bare.push(await round(bare.port, tokens));
      results.secured.push(await round(secured.port, tokens));
    }
    const b = median(results.bare);
    const s = median(results.secured);
    console.log(`SSE stream open, server CPU per open (median of ${ROUNDS} rounds of ${OPENS_PER_ROUND}, ${CONCURRENCY} at a time):`);
    console.log(`  bare Nest @Sse():            ${b.toFixed(1)} µs`);
    console.log(`  @SseAuthorize under module:  ${s.toFixed(1)} µs`);
    console.log(`  ratio secured/bare:          ${(s / b).toFixed(2)}x`);
  } finally {
    bare.child.kill();
    secured.child.kill();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
