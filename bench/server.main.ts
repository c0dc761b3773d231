/**
 * One server under test, in its own process (started by bench/run.ts with `--expose-gc`, pinned to
 * one core). Usage: node server.main.js <scenario> [redisUrl]. Answers over IPC: `cpu` (its own
 * `process.cpuUsage()`), `mem` (`process.memoryUsage()` after GC), `connections`, `stop`.
 */
import 'reflect-metadata';
import { writeHeapSnapshot } from 'node:v8';
import { serveIpc } from './support/ipc.js';
import { connectionCounter, SCENARIOS, type CpuSnapshot, type MemorySnapshot, type ScenarioName, type ServerReady } from './support/protocol.js';
import { startRawServer } from './servers/raw.server.js';
import { startScenarioApp } from './servers/scenario-app.js';

const gc = (globalThis as { gc?: () => void }).gc;

async function start(scenario: ScenarioName, redisUrl: string | undefined): Promise<{ port: number; close(): Promise<void> }> {
  if (scenario === 'raw') return startRawServer();
  const { app, port } = await startScenarioApp(scenario, redisUrl);
  return { port, close: () => app.close() };
}

async function main(): Promise<void> {
  const scenario = process.argv[2] as ScenarioName;
  if (!SCENARIOS.includes(scenario)) throw new Error(`unknown scenario ${String(scenario)}`);
  if (gc === undefined) throw new Error('run with --expose-gc');
  const server = await start(scenario, process.argv[3]);
  serveIpc({
    cpu: (): CpuSnapshot => {
      const usage = process.cpuUsage();
      return { user: usage.user, system: usage.system, atMs: performance.now() };
    },
    mem: (): MemorySnapshot => {
      for (let i = 0; i < 3; i++) gc();
      const usage = process.memoryUsage();
      return { heapUsed: usage.heapUsed, rss: usage.rss, connections: connectionCounter.open };
    },
    connections: (): number => connectionCounter.open,
    /** Writes a heap snapshot (after GC) to `args.path`, for digging into memory per connection. */
    heapSnapshot: (args: { path: string }): string => {
      for (let i = 0; i < 3; i++) gc();
      return writeHeapSnapshot(args.path);
    },
    stop: async (): Promise<true> => {
      await server.close();
      setImmediate(() => process.exit(0));
      return true;
    },
  });
  process.send?.({ ready: { port: server.port } satisfies ServerReady });
}

main().catch((error: unknown) => {
  process.send?.({ failed: error instanceof Error ? error.message : String(error) });
  console.error(error);
  process.exit(1);
});
