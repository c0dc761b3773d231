import { UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { BENCH_SECRET, connectionCounter, countConnection, ECHO_EVENT, NAMESPACE } from '../support/protocol.js';
import { EchoDto } from './echo.dto.js';
import { JwtWsGuard } from './jwt-ws.guard.js';
import { SocketThrottlerGuard } from './socket-throttler.guard.js';

/**
 * `naive`: what Nest tutorials do. The token is checked in `handleConnection` (disconnect if
 * bad), then again by a guard on every message; Nest's stock `ValidationPipe` with a
 * `WsException` factory; a per-socket `ThrottlerGuard` subclass.
 */
@WebSocketGateway({ namespace: NAMESPACE })
@UseGuards(JwtWsGuard, SocketThrottlerGuard)
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, exceptionFactory: (errors) => new WsException(errors) }))
export class NaiveGateway implements OnGatewayConnection, OnGatewayDisconnect {
  constructor(private readonly jwt: JwtService) {}

  handleConnection(client: Socket): void {
    const auth = client.handshake.auth as { token?: unknown };
    try {
      if (typeof auth.token !== 'string') throw new Error('no token');
      client.data.user = this.jwt.verify(auth.token, { secret: BENCH_SECRET, algorithms: ['HS256'] });
      countConnection(client);
    } catch {
      client.disconnect(true);
    }
  }

  handleDisconnect(client: Socket): void {
    if (client.data.user !== undefined) connectionCounter.open--;
  }

  @SubscribeMessage(ECHO_EVENT)
  echo(@ConnectedSocket() _client: Socket, @MessageBody() body: EchoDto): EchoDto {
    return body;
  }
}
