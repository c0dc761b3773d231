import { Inject, Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';

type EngineConnection = Socket['conn'];

interface Packet {
  data?: unknown;
}

/**
 * Drops slow consumers. Engine.IO queues outgoing packets while the transport is busy (a
 * WebSocket whose peer stopped reading, a polling client that stopped polling) and the queue has
 * no bound of its own. This counts the bytes queued since the last flush to the transport, plus
 * what the WebSocket itself still buffers, and closes the connection (discarding the queue) once
 * they pass `transport.maxBufferedBytes`. One watcher per Engine.IO connection.
 */
@Injectable()
export class OutboundBufferMonitor {
  /**
   * Listeners shared by every connection (Engine.IO calls them with the connection as `this`);
   * the per-connection state is one number on the connection itself: no closures per connection.
   */
  private readonly onPacket: (this: WatchedConnection, packet: Packet) => void;
  private readonly onFlush = function onFlush(this: WatchedConnection): void {
    this[QUEUED] = 0;
  };
  private readonly onClose: (this: WatchedConnection) => void;

  constructor(@Inject(RESOLVED_OPTIONS) options: ResolvedRealtimeSecurityOptions) {
    const max = options.transport.maxBufferedBytes;
    const onPacket = function onPacket(this: WatchedConnection, packet: Packet): void {
      const queued = (this[QUEUED] ?? 0) + sizeOf(packet.data);
      this[QUEUED] = queued;
      if (queued + socketBuffered(this) > max) {
        this.off('packetCreate', onPacket);
        // Discard: never wait for a drain that a stalled peer will not allow.
        this.close(true);
      }
    };
    this.onPacket = onPacket;
    this.onClose = function onClose(this: WatchedConnection): void {
      this.off('packetCreate', onPacket);
    };
  }

  watch(conn: EngineConnection): void {
    const watched = conn as WatchedConnection;
    if (watched[QUEUED] !== undefined) return;
    watched[QUEUED] = 0;
    conn.on('packetCreate', this.onPacket);
    conn.on('flush', this.onFlush);
    conn.once('close', this.onClose);
  }
}

/** Bytes queued on a watched connection since its last flush (absent: not watched). */
const QUEUED = Symbol('realtime-security:outbound-queued');

type WatchedConnection = EngineConnection & { [QUEUED]?: number };

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** Bytes the WebSocket transport has handed to `ws` but not yet to the kernel. */
function socketBuffered(conn: EngineConnection): number {
  const transport = conn.transport as unknown as { socket?: { bufferedAmount?: unknown } };
  const amount = transport.socket?.bufferedAmount;
  return typeof amount === 'number' ? amount : 0;
}
