import { Inject, Injectable, type Type } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type GatewayMetadata,
  type OnGatewayConnection,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { Namespace, Server, Socket } from 'socket.io';
import { WsPrincipal, WsPublic, type Principal } from '../../lib/index.js';

/** One handled event, as the probe saw it. */
export interface ProbeCall {
  readonly nsp: string;
  readonly userId: string;
  readonly at: number;
  /** The principal's `expiresAt` when the handler ran. */
  readonly expiresAt: number;
}

/**
 * Counts what reached the app: `handleConnection` calls and handled events, per namespace.
 * An attack test asserts these stay at zero.
 */
@Injectable()
export class Probe {
  readonly connections: string[] = [];
  readonly calls: ProbeCall[] = [];
  /** Sockets the app saw connect, by namespace (for server-side checks). */
  readonly sockets: Socket[] = [];

  connectionsOn(nsp: string): number {
    return this.connections.filter((n) => n === nsp).length;
  }

  callsOn(nsp: string): number {
    return this.calls.filter((c) => c.nsp === nsp).length;
  }

  reset(): void {
    this.connections.length = 0;
    this.calls.length = 0;
    this.sockets.length = 0;
  }
}

/**
 * A gateway on `namespace` that records into `Probe`. Events: `ev` (acks `{ ok, nsp, userId }`)
 * and `whoami`. `afterInit` runs `init` with the gateway's server (namespace or root server).
 */
export function probeGateway(
  namespace: string | RegExp | undefined,
  options: Omit<GatewayMetadata, 'namespace'> = {},
  init?: (server: Server | Namespace) => void,
): Type<unknown> {
  @WebSocketGateway({ ...(namespace !== undefined ? { namespace } : {}), ...options })
  class ProbeGateway implements OnGatewayConnection, OnGatewayInit {
    constructor(@Inject(Probe) private readonly probe: Probe) {}

    afterInit(server: Server | Namespace): void {
      init?.(server);
    }

    handleConnection(socket: Socket): void {
      this.probe.connections.push(socket.nsp.name);
      this.probe.sockets.push(socket);
    }

    @WsPublic()
    @SubscribeMessage('ev')
    ev(@WsPrincipal() principal: Principal, @ConnectedSocket() socket: Socket, @MessageBody() _body: unknown) {
      this.probe.calls.push({ nsp: socket.nsp.name, userId: principal.userId, at: Date.now(), expiresAt: principal.expiresAt });
      return { ok: true, nsp: socket.nsp.name, userId: principal.userId };
    }
  }
  Object.defineProperty(ProbeGateway, 'name', { value: `ProbeGateway(${String(namespace ?? '/')})` });
  return ProbeGateway;
}
