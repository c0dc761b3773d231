import { Injectable } from '@nestjs/common';
import { ConnectedSocket, SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { WsPublic, type Principal } from '../../lib/index.js';

/**
 * Holds handshakes that carry `auth.hold` in the app's own middleware (after authentication,
 * moderation and the connection slot), until the test releases them: the window in which a
 * moderation change lands on a handshake in flight.
 */
@Injectable()
export class HandshakeGate {
  private readonly waiting = new Map<string, () => void>();

  /** True once a handshake holding `name` reached the app middleware. */
  holds(name: string): boolean {
    return this.waiting.has(name);
  }

  release(name: string): void {
    const resume = this.waiting.get(name);
    this.waiting.delete(name);
    resume?.();
  }

  wait(name: string): Promise<void> {
    return new Promise((resolve) => this.waiting.set(name, resolve));
  }
}

/** `/chat` with the holding middleware, and `whoami` answering the socket's effective permissions. */
@WebSocketGateway({ namespace: '/chat' })
export class HeldHandshakeGateway implements OnGatewayInit {
  constructor(private readonly gate: HandshakeGate) {}

  afterInit(nsp: Namespace): void {
    nsp.use((socket, next) => {
      const hold: unknown = (socket.handshake.auth as { hold?: unknown }).hold;
      if (typeof hold !== 'string') next();
      else void this.gate.wait(hold).then(() => next());
    });
  }

  @WsPublic()
  @SubscribeMessage('whoami')
  whoami(@ConnectedSocket() socket: Socket) {
    return { permissions: (socket.data as { principal: Principal }).principal.permissions };
  }
}
