/**
 * The in-process dispatch micro-bench (started by bench/run.ts, pinned to the servers' core).
 * Usage: node --expose-gc dispatch.main.js <rounds> <batchMs> <scenario,...>
 *
 * One process hosts every Nest scenario, so they share one speed factor (a fresh process can run
 * 1.5x slower than its twin). Each app gets one real client; its server-side socket is then driven
 * directly: an EVENT packet handed to the socket as the engine would (`_onpacket`), through
 * Socket.IO's middleware, Nest's handler callback with its guards, pipes and filters, down to the
 * ack, which is caught before it is encoded. Rounds time each scenario for `batchMs` in a rotated
 * order; the result is CPU ns per dispatch per round, sent over IPC as `ready`.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { connectionCounter, DISPATCH_ONLY_SCENARIOS, ECHO_EVENT, ECHO_PAYLOAD, NAMESPACE, SCENARIOS } from './support/protocol.js';
import { benchToken } from './support/token.js';
import { startScenarioApp, type NestScenario } from './servers/scenario-app.js';

/** The parts of a server-side Socket.IO socket this bench drives (private in socket.io's types). */
interface DrivenSocket {
  _onpacket(packet: { type: number; nsp: string; id: number; data: unknown[] }): void;
  ack(id: number): (...reply: unknown[]) => void;
}

/** Socket.IO's EVENT packet type. */
const EVENT = 2;

interface Target {
  scenario: NestScenario;
  app: INestApplication;
  client: ClientSocket;
  socket: DrivenSocket;
  /** Resolves the dispatch in flight when its ack arrives. */
  settle: ((reply: unknown) => void) | undefined;
}

async function open(scenario: NestScenario): Promise<Target> {
  const { app, port } = await startScenarioApp(scenario, undefined);
  const before = connectionCounter.last;
  const client = io(`http://127.0.0.1:${port}${NAMESPACE}`, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { token: benchToken(`dispatch-${scenario}`) } });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('connect_error', (error) => reject(new Error(`${scenario}: ${error.message}`)));
  });
  while (connectionCounter.last === before) await new Promise((resolve) => setImmediate(resolve));
  const socket = connectionCounter.last as unknown as DrivenSocket;
  const target: Target = { scenario, app, client, socket, settle: undefined };
  // Acks are caught here instead of being encoded and written: the bench times dispatch, not the transport.
  socket.ack = () => (...reply: unknown[]) => target.settle?.(reply[0]);
  return target;
}

function dispatchOnce(target: Target, id: number): Promise<unknown> {
  return new Promise((resolve) => {
    target.settle = resolve;
    // A fresh payload object each time, as the parser would hand over.
    target.socket._onpacket({ type: EVENT, nsp: NAMESPACE, id, data: [ECHO_EVENT, { channelId: ECHO_PAYLOAD.channelId, text: ECHO_PAYLOAD.text }] });
  });
}

/**
 * Dispatches for about `batchMs` of wall time; answers the process's CPU ns per dispatch (CPU, not
 * wall: a neighbour on the core does not count). Throws on any reply that is not the echo.
 */
async function batch(target: Target, batchMs: number): Promise<number> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(batchMs * 1e6));
  const cpu = process.cpuUsage();
  let count = 0;
  for (;;) {
    const reply = await dispatchOnce(target, count);
    if (typeof reply !== 'object' || reply === null || (reply as { text?: unknown }).text !== ECHO_PAYLOAD.text) {
      throw new Error(`${target.scenario}: unexpected reply ${JSON.stringify(reply).slice(0, 200)}`);
    }
    count++;
    if ((count & 31) === 0 && process.hrtime.bigint() >= deadline) break;
  }
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) * 1000) / count;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2]);
  const batchMs = Number(process.argv[3]);
  const scenarios = (process.argv[4] ?? '').split(',').filter(Boolean) as NestScenario[];
  const known: readonly string[] = [...SCENARIOS, ...DISPATCH_ONLY_SCENARIOS];
  for (const name of scenarios) if (!known.includes(name) || name === 'securedRedis') throw new Error(`dispatch bench: no in-process scenario ${name}`);
  const targets: Target[] = [];
  for (const scenario of scenarios) targets.push(await open(scenario));
  // Warm-up: every scenario's code paths compiled before the first timed round.
  for (const target of targets) await batch(target, batchMs);
  const nsPerDispatch: Record<string, number[]> = Object.fromEntries(scenarios.map((s) => [s, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(round + i) % targets.length]!;
      nsPerDispatch[target.scenario]!.push(await batch(target, batchMs));
    }
  }
  for (const target of targets) {
    target.client.disconnect();
    await target.app.close();
  }
  process.send?.({ ready: nsPerDispatch });
}

main().then(
  () => setImmediate(() => process.exit(0)),
  (error: unknown) => {
    process.send?.({ failed: error instanceof Error ? error.message : String(error) });
    console.error(error);
    process.exit(1);
  },
);
