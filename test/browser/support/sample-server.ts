import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { REPO_ROOT, SAMPLE_ENTRY, spawnSample } from '../../support/sample-process.js';

/** A running sample app, as a black box: the built `dist-sample/sample/main.js` in a child process. */
export interface SampleServer {
  /** `http://127.0.0.1:<port>`: the page, the routes and Socket.IO. */
  readonly url: string;
  readonly port: number;
  /** Every line the process wrote to stdout and stderr so far. */
  readonly output: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts the built sample (`npm run build:sample` first; `npm run test:browser` does it) on a free
 * port and resolves once it prints its `listening on` line. `env` is added to a fixed secret.
 */
export async function startSample(env: Record<string, string> = {}, timeoutMs = 20_000): Promise<SampleServer> {
  if (!existsSync(REPO_ROOT + SAMPLE_ENTRY)) throw new Error(`${SAMPLE_ENTRY} is missing: run "npm run build:sample" (or "npm run test:browser", which builds it).`);
  const sample = await spawnSample({ secret: 'browser-suite-secret-0123456789-abcdefghijklmnop', env, label: 'the sample', timeoutMs });
  return { url: sample.url, port: Number(new URL(sample.url).port), output: sample.output, stop: () => stop(sample.process) };
}

/** SIGTERM (the sample closes gracefully), then SIGKILL if it is still there after a deadline. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
