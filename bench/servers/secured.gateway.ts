import { UsePipes } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import { WsAuthorize, WsValidationPipe } from '../../lib/index.js';
import type { Socket } from 'socket.io';
import { connectionCounter, countConnection, ECHO_EVENT, NAMESPACE } from '../support/protocol.js';
import { EchoDto } from './echo.dto.js';

/** `secured` and `securedRedis`: the echo gateway with this library (the module does the rest). */
@WebSocketGateway({ namespace: NAMESPACE })
@UsePipes(new WsValidationPipe())
export class SecuredGateway implements OnGatewayConnection, OnGatewayDisconnect {
  handleConnection(client: Socket): void { countConnection(client); }
  handleDisconnect(): void { connectionCounter.open--; }

  @WsAuthorize('channel:write', { resource: (d) => (d as EchoDto).channelId })
  @SubscribeMessage(ECHO_EVENT)
  echo(@MessageBody() body: EchoDto): EchoDto {
    return body;
  }
}
