import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { BENCH_SECRET } from '../support/protocol.js';

/** The tutorial guard: verifies the handshake's JWT again on every message. */
@Injectable()
export class JwtWsGuard implements CanActivate {
  constructor(private readonly jwt: JwtService) {}

  canActivate(context: ExecutionContext): boolean {
    const client = context.switchToWs().getClient<Socket>();
    const auth = client.handshake.auth as { token?: unknown };
    if (typeof auth.token !== 'string') throw new WsException('Unauthorized');
    try {
      client.data.user = this.jwt.verify(auth.token, { secret: BENCH_SECRET, algorithms: ['HS256'] });
    } catch {
      throw new WsException('Unauthorized');
    }
    return true;
  }
}
