import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY = 'dist-sample/sample/main.js';
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:(\d+))/;

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
  if (!existsSync(ROOT + ENTRY)) throw new Error(`${ENTRY} is missing: run "npm run build:sample" (or "npm run test:browser", which builds it).`);
  const child = spawn(process.execPath, [ENTRY], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: 'browser-suite-secret-0123456789-abcdefghijklmnop',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the sample did not print "listening on" within ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    const onExit = (code: number | null) => fail(new Error(`the sample exited (code ${code}) before listening:\n${output.join('\n')}`));
    function fail(error: Error) {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(error);
    }
    child.once('exit', onExit);
    collectLines(child, output, (line) => {
      const match = LISTENING.exec(line);
      if (match === null) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(match[1] as string);
    });
  });
  return { url, port: Number(new URL(url).port), output, stop: () => stop(child) };
}

function collectLines(child: ChildProcess, into: string[], onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        into.push(line);
        onLine(line);
        newline = pending.indexOf('\n');
      }
    });
  }
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
