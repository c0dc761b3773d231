import { UsePipes } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { WsAuthorize } from '../../lib/index.js';
import { connectionCounter, countConnection, ECHO_EVENT, NAMESPACE } from '../support/protocol.js';
import type { EchoDto } from './echo.dto.js';
import { NoopPipe } from './noop.pipe.js';

/**
 * `securedNoValidation` (in-process dispatch bench only): the `secured` gateway with Nest's no-op
 * pipe in place of `WsValidationPipe`, so the library's per-message cost splits into validation
 * and everything else.
 */
@WebSocketGateway({ namespace: NAMESPACE })
@UsePipes(new NoopPipe())
export class SecuredNoValidationGateway implements OnGatewayConnection, OnGatewayDisconnect {
  handleConnection(client: Socket): void { countConnection(client); }
  handleDisconnect(): void { connectionCounter.open--; }

  @WsAuthorize('channel:write', { resource: (d) => (d as EchoDto).channelId })
  @SubscribeMessage(ECHO_EVENT)
  echo(@MessageBody() body: EchoDto): EchoDto {
    return body;
  }
}
