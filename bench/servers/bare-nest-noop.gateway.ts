import { UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { connectionCounter, countConnection, ECHO_EVENT, NAMESPACE } from '../support/protocol.js';
import type { EchoDto } from './echo.dto.js';
import { NoopGuard } from './noop.guard.js';
import { NoopPipe } from './noop.pipe.js';
import { PassThroughFilter } from './pass-through.filter.js';

/**
 * `bareNestNoopGuardPipe`: Nest's own floor for a guarded, piped, filtered handler. The `bareNest`
 * echo gateway with a synchronous no-op guard, pipe and filter; what lies between this and
 * `secured` is the library's own work.
 */
@WebSocketGateway({ namespace: NAMESPACE })
@UseGuards(NoopGuard)
@UsePipes(new NoopPipe())
@UseFilters(new PassThroughFilter())
export class BareNestNoopGateway implements OnGatewayConnection, OnGatewayDisconnect {
  handleConnection(client: Socket): void { countConnection(client); }
  handleDisconnect(): void { connectionCounter.open--; }

  @SubscribeMessage(ECHO_EVENT)
  echo(@MessageBody() body: EchoDto): EchoDto {
    return body;
  }
}
