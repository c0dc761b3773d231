import { UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, WsException, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { connectionCounter, countConnection, ECHO_EVENT, NAMESPACE } from '../support/protocol.js';
import { EchoDto } from './echo.dto.js';
import { UserPermissionGuard } from './user-permission.guard.js';
import { UserThrottlerGuard } from './user-throttler.guard.js';

/**
 * `tuned`: the hand-tuned rival (with `TunedIoAdapter`): a synchronous permission guard, the
 * throttler keyed by user, Nest's stock `ValidationPipe` with a `WsException` factory.
 */
@WebSocketGateway({ namespace: NAMESPACE })
@UseGuards(UserPermissionGuard, UserThrottlerGuard)
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, exceptionFactory: (errors) => new WsException(errors) }))
export class TunedGateway implements OnGatewayConnection, OnGatewayDisconnect {
  handleConnection(client: Socket): void { countConnection(client); }
  handleDisconnect(): void { connectionCounter.open--; }

  @SubscribeMessage(ECHO_EVENT)
  echo(@MessageBody() body: EchoDto): EchoDto {
    return body;
  }
}
