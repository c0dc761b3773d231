import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { connectionCounter, countConnection, ECHO_EVENT, NAMESPACE } from '../support/protocol.js';
import { EchoDto } from './echo.dto.js';

/** `bareNest`: the echo gateway with no security, on Nest's stock `IoAdapter`. */
@WebSocketGateway({ namespace: NAMESPACE })
export class BareNestGateway implements OnGatewayConnection, OnGatewayDisconnect {
  handleConnection(client: Socket): void { countConnection(client); }
  handleDisconnect(): void { connectionCounter.open--; }

  @SubscribeMessage(ECHO_EVENT)
  echo(@MessageBody() body: EchoDto): EchoDto {
    return body;
  }
}
