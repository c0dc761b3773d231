import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { buildSampleIfStale, clusterToken, httpJson, killNode, startSampleNode, stopAll, stopNode, type SampleNode } from '../support/cluster.js';
import { plainClient, RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS 44, the CI-sized reconnect storm (`npm run soak` runs it with 2,000 clients): two sample
 * nodes on a redis-server of the test's own, 150 users each with one Socket.IO client per node
 * (300 clients, default reconnection, behind a trusted proxy: each sends its own X-Forwarded-For),
 * one node restarted on the same port. Every client comes back, presence and per-user slots end
 * exact on both nodes and in Redis, and nothing is left once the clients leave.
 */
const run = randomBytes(3).toString('hex');
const TENANT = `storm-${run}`;
const USERS = 150;
let redis: RedisServer;
let nodes: SampleNode[] = [];
let ports: number[] = [];
const clients: Socket[] = [];
/** The app-level retries pending (cleared with the clients, so none reopens a socket after a test). */
const retries = new Set<NodeJS.Timeout>();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const startNode = (i: number, name: string) => startSampleNode({
  redisUrl: redis.url,
  nodeId: `${name}-${run}`,
  env: { PORT: String(ports[i]), TRUSTED_PROXIES: '127.0.0.1' },
  timeoutMs: 60_000,
});

beforeAll(async () => {
  buildSampleIfStale();
  redis = await RedisServer.start();
  ports = [await freePort(), await freePort()];
  nodes = await Promise.all([startNode(0, 'storm-a'), startNode(1, 'storm-b')]);
}, 300_000);
afterEach(() => {
  for (const timer of retries) clearTimeout(timer);
  retries.clear();
  for (const socket of clients.splice(0)) socket.disconnect();
});
afterAll(async () => {
  await stopAll(nodes);
  await redis?.stop();
});

const refusals = new Map<string, number>();

/** The clients, as an app would write them: default reconnection, and a retry when the server says "later". */
function openClients(): void {
  for (let u = 0; u < USERS; u += 1) {
    const token = clusterToken(`user-${u}`, TENANT);
    for (const [n, node] of nodes.entries()) {
      const index = u * 2 + n;
      const socket = io(`${node.url}/chat`, { forceNew: true, transports: ['websocket'], auth: { token }, extraHeaders: { 'x-forwarded-for': `10.1.${index >> 8}.${index & 255}` } });
      socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
        const reason = error.data?.code ?? error.message;
        refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
        if (!socket.active && (reason === 'SERVICE_UNAVAILABLE' || reason === 'CONNECTION_LIMIT')) {
          const timer = setTimeout(() => {
            retries.delete(timer);
            if (clients.includes(socket)) socket.connect();
          }, 1000 + Math.random() * 2000);
          retries.add(timer);
        }
      });
      clients.push(socket);
    }
  }
}

const connectedCount = () => clients.filter((s) => s.connected).length;

/** Connection counts per online user, as `node` lists them (undefined while it cannot answer). */
async function presenceCounts(node: SampleNode): Promise<number[] | undefined> {
  const { status, body } = await httpJson('GET', `${node.url}/moderation/presence?limit=1000`, clusterToken('moderator', TENANT, ['moderation:read']));
  if (status !== 200) return undefined;
  return (body as { users: { connections: number }[] }).users.map((u) => u.connections);
}

async function slotCounts(): Promise<number[]> {
  const client = plainClient(redis.url);
  try {
    // Per-user keys carry a hash tag after the prefix (`rts:{u<bucket>}lease:<tenant>/<user>`).
    const keys = await client.keys(`rts:{u*}lease:${TENANT}/*`);
    return Promise.all(keys.map((key) => client.hlen(key))).then((counts) => counts.filter((c) => c > 0));
  } finally {
    client.disconnect();
  }
}

let lastSeen = '';
async function everyUserExact(): Promise<boolean> {
  const [a, b, slots] = await Promise.all([presenceCounts(nodes[0]!), presenceCounts(nodes[1]!), slotCounts()]);
  lastSeen = [a, b, slots].map((counts) => (counts === undefined ? 'unavailable' : `${counts.length} users, ${counts.filter((c) => c !== 2).length} not at 2`)).join(' | ');
  return [a, b, slots].every((counts) => counts !== undefined && counts.length === USERS && counts.every((c) => c === 2));
}

/** Waits until presence on both nodes and the slots in Redis are exact; says what it saw last otherwise. */
const exactWithin = (what: string, ms: number) => waitFor(what, everyUserExact, ms, 200).catch((error: unknown) => {
  throw new Error(`${String(error)} (presence a | presence b | slots: ${lastSeen})`);
});

describe('cluster: reconnect storm (THREATS 44)', () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)('%s one of two nodes under 300 clients: all reconnect, presence and slots exact, nothing left after', async (signal) => {
    refusals.clear();
    openClients();
    await waitFor('300 clients connected', () => connectedCount() === 2 * USERS, 60_000, 100);
    await exactWithin('presence and slots exact', 60_000);
    const restartedAt = Date.now();
    if (signal === 'SIGTERM') await stopNode(nodes[0]!);
    else await killNode(nodes[0]!);
    nodes[0] = await startNode(0, `storm-a-${signal}`);
    await waitFor('every client back', () => connectedCount() === 2 * USERS, 90_000, 100);
    const backMs = Date.now() - restartedAt;
    await exactWithin('presence and slots exact after the storm', 60_000);
    process.stdout.write(`[storm] ${signal}: 300 clients back ${backMs} ms after the signal, exact at ${Date.now() - restartedAt} ms; refusals ${JSON.stringify(Object.fromEntries(refusals))}\n`);
    // Nobody was refused for the per-address limit: each client counts by its forwarded address.
    expect(refusals.get('RATE_LIMITED') ?? 0).toBe(0);
    for (const timer of retries) clearTimeout(timer);
    retries.clear();
    for (const socket of clients.splice(0)) socket.disconnect();
    await waitFor('no slot and nobody online once the clients left', async () => (await slotCounts()).length === 0 && (await presenceCounts(nodes[1]!))?.length === 0, 30_000, 200);
  }, 240_000);
});
