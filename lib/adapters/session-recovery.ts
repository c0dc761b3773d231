import type { Namespace, Server, Socket } from 'socket.io';

/** What `io.adapter(...)` takes: an adapter class or factory. */
export type AdapterConstructor = Parameters<Server['adapter']>[0];

type NamespaceAdapter = Namespace['adapter'];

/** The identity a recovered session was authenticated as. */
export interface RecoveredIdentity {
  readonly userId: string;
  readonly tenantId: string;
}

const HOLDING = Symbol('realtime-security:holds-missed-packets');
const heldByAdapter = new WeakMap<NamespaceAdapter, Map<string, unknown[][]>>();
/**
 * The rooms each broadcast was addressed to, by its data array: the session-aware adapter keeps
 * that same array as the stored packet, so an entry lives exactly as long as the packet can be
 * replayed. An empty set is a namespace-wide broadcast.
 */
const roomsOfPacket = new WeakMap<object, ReadonlySet<string>>();

/**
 * Socket.IO's connection-state recovery writes a restored session's missed packets to the
 * client as the socket is created, before any middleware, and so before authentication. This
 * wraps an adapter class or factory so that `restoreSession` hands Socket.IO no packets and
 * keeps them for {@link takeMissedPackets}, which the handshake calls once the client has been
 * authenticated as the session's own user. A session whose socket id is connected right now is
 * not restored at all (two sockets never share an id; the client gets a fresh session).
 */
export function holdMissedPackets(base: AdapterConstructor): AdapterConstructor {
  if ((base as unknown as Record<symbol, unknown>)[HOLDING] === true) return base;
  const Base = base as unknown as new (nsp: Namespace) => NamespaceAdapter;
  function HoldingAdapter(nsp: Namespace): NamespaceAdapter {
    const adapter = new Base(nsp);
    const held = new Map<string, unknown[][]>();
    heldByAdapter.set(adapter, held);
    if (nsp.server._opts.connectionStateRecovery) {
      // Which rooms a stored packet was for, so a recovered socket's replay can leave out the
      // packets of rooms it may no longer be in (see `filterMissedPackets`).
      const broadcast = adapter.broadcast.bind(adapter);
      adapter.broadcast = (packet, opts) => {
        if (Array.isArray(packet.data)) roomsOfPacket.set(packet.data, opts.rooms);
        broadcast(packet, opts);
      };
    }
    const restore = adapter.restoreSession.bind(adapter);
    adapter.restoreSession = async (pid, offset) => {
      const session = await restore(pid, offset);
      if (session === null || session === undefined) return session;
      if (nsp.sockets.has(session.sid)) return null as unknown as typeof session;
      held.set(session.sid, session.missedPackets);
      return { ...session, missedPackets: [] };
    };
    return adapter;
  }
  Object.defineProperty(HoldingAdapter, HOLDING, { value: true });
  return HoldingAdapter as unknown as AdapterConstructor;
}

/** Removes and returns the packets held for a recovered socket (empty when none). */
export function takeMissedPackets(socket: Socket): unknown[][] {
  const held = heldByAdapter.get(socket.nsp.adapter);
  const packets = held?.get(socket.id) ?? [];
  held?.delete(socket.id);
  return packets;
}

/**
 * The held packets a recovered socket may still receive once rooms were dropped from it: a
 * namespace-wide packet, or one addressed to a room the socket kept. A packet whose rooms are
 * unknown (an adapter that stores packets elsewhere and hands back copies) is kept only when no
 * room was dropped.
 */
export function filterMissedPackets(packets: readonly unknown[][], kept: ReadonlySet<string>, dropped: ReadonlySet<string>): unknown[][] {
  if (dropped.size === 0) return [...packets];
  return packets.filter((data) => {
    const rooms = roomsOfPacket.get(data);
    if (rooms === undefined) return false;
    if (rooms.size === 0) return true;
    for (const room of rooms) if (kept.has(room)) return true;
    return false;
  });
}

/** Sends held missed packets to the socket, as Socket.IO itself would have (events, in order). */
export function replayMissedPackets(socket: Socket, packets: readonly unknown[][]): void {
  // `packet()` is how Socket.IO replays them; it is not in its typings.
  const raw = socket as unknown as { packet(packet: { type: number; data: unknown[] }): void };
  for (const data of packets) raw.packet({ type: 2, data });
}

/**
 * Who the recovered session belonged to, from the restored `socket.data` (a live principal
 * view in memory, a plain copy from a cluster adapter); `null` when it does not say.
 */
export function recoveredIdentity(socket: Socket): RecoveredIdentity | null {
  const data: unknown = socket.data;
  const principal = data !== null && typeof data === 'object' ? (data as { principal?: unknown }).principal : undefined;
  if (principal === null || typeof principal !== 'object') return null;
  const { userId, tenantId } = principal as { userId?: unknown; tenantId?: unknown };
  return typeof userId === 'string' && typeof tenantId === 'string' ? { userId, tenantId } : null;
}

/**
 * Gives a recovered socket a fresh `data` object holding the app's own entries: the restored one
 * still carries the previous connection's session, which the new one replaces. Returns the
 * restored object (its non-enumerable entries tell what the previous connection had joined).
 */
export function resetRecoveredData(socket: Socket): object | null {
  const previous: unknown = socket.data;
  const fresh: Record<string, unknown> = {};
  if (previous !== null && typeof previous === 'object') {
    for (const [key, value] of Object.entries(previous)) {
      if (key !== 'principal') Object.defineProperty(fresh, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  socket.data = fresh;
  return previous !== null && typeof previous === 'object' ? previous : null;
}
