import type { Cluster, Redis } from 'ioredis';

/** What this file touches of an ioredis connection: its command entry point and its socket. */
interface CommandConnection {
  sendCommand(...args: unknown[]): unknown;
  stream?: { writable?: boolean; cork(): void; uncork(): void } | null;
}

/**
 * Makes every command a connection writes in one event-loop turn leave in one `writev`: the
 * socket is corked at the turn's first command and uncorked once the turn's I/O callbacks have
 * run (`setImmediate`). Many handshakes landing in the same turn then cost Redis one read and
 * the process one write instead of one each, and Redis answers them in one packet. Nothing else
 * changes: the commands keep their order on the one socket, their timeouts and their replies;
 * a socket that closes while corked fails its commands as if the write had been lost on the wire.
 * On a Redis Cluster, each master's connection is coalesced on its own as it appears.
 */
export function coalesceWrites(client: Redis | Cluster): void {
  if ('isCluster' in client && client.isCluster) {
    const cluster = client as Cluster;
    cluster.on('+node', (node: Redis) => coalesce(node as unknown as CommandConnection));
    // The seed nodes joined while the client was being built, before this listener.
    for (const node of cluster.nodes('all')) coalesce(node as unknown as CommandConnection);
    return;
  }
  coalesce(client as unknown as CommandConnection);
}

const COALESCED = Symbol('coalescedWrites');

function coalesce(connection: CommandConnection & { [COALESCED]?: true }): void {
  if (connection[COALESCED] === true) return;
  connection[COALESCED] = true;
  const send = connection.sendCommand.bind(connection);
  let corked = false;
  connection.sendCommand = (...args: unknown[]) => {
    const socket = connection.stream;
    if (!corked && socket !== null && socket !== undefined && socket.writable === true) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    return send(...args);
  };
}
