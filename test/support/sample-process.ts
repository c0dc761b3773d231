import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (where `dist-sample/` is built). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built sample's entry point, relative to the repository root. */
export const SAMPLE_ENTRY = 'dist-sample/sample/main.js';
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:(\d+))/;

/** A sample process that printed its `listening on` line. */
export interface SampleProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly process: ChildProcess;
  /** Every line it printed so far (stdout and stderr). */
  readonly output: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string | null>;
}

/** Options of {@link spawnSample}. */
export interface SpawnSampleOptions {
  /** The JWT secret (`JWT_SECRET`). */
  readonly secret: string;
  /** Added to `PATH`, `NODE_ENV=test`, `PORT=0`, `HOST=127.0.0.1`, `METRICS_PORT=0` (never the fixed 9464) and the secret. */
  readonly env?: Record<string, string | undefined>;
  /** The compiled entry to run, relative to the repository root or absolute; default the sample. */
  readonly entry?: string;
  /** How the process is named in errors (`the sample`, `sample node a`). */
  readonly label: string;
  readonly timeoutMs: number;
}

/**
 * Spawns the built sample (or another compiled entry) with node on a free port and resolves once it
 * prints its `listening on` line; rejects (and kills it) if it exits first or stays silent past
 * `timeoutMs`, with what it printed.
 */
export async function spawnSample(options: SpawnSampleOptions): Promise<SampleProcess> {
  const child = spawn(process.execPath, [options.entry ?? SAMPLE_ENTRY], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      // Tests run in parallel: the metrics page's fixed default port stays off unless a test picks a free one.
      METRICS_PORT: '0',
      JWT_SECRET: options.secret,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${options.label} did not print "listening on" within ${options.timeoutMs} ms:\n${output.join('\n')}`)), options.timeoutMs);
    const onExit = (code: number | null) => fail(new Error(`${options.label} exited (code ${code}) before listening:\n${output.join('\n')}`));
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
  return { url, process: child, output, exited };
}

/** Appends every line `child` prints (stdout and stderr) to `into`, calling `onLine` for each. */
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
