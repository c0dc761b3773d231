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
  private readonly watched = new WeakSet<EngineConnection>();
  private readonly max: number;

  constructor(@Inject(RESOLVED_OPTIONS) options: ResolvedRealtimeSecurityOptions) {
    this.max = options.transport.maxBufferedBytes;
  }

  watch(conn: EngineConnection): void {
    if (this.watched.has(conn)) return;
    this.watched.add(conn);
    let queued = 0;
    const onPacket = (packet: Packet) => {
      queued += sizeOf(packet.data);
      if (queued + socketBuffered(conn) > this.max) {
        conn.off('packetCreate', onPacket);
        // Discard: never wait for a drain that a stalled peer will not allow.
        conn.close(true);
      }
    };
    conn.on('packetCreate', onPacket);
    conn.on('flush', () => {
      queued = 0;
    });
    conn.once('close', () => {
      conn.off('packetCreate', onPacket);
    });
  }
}

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
