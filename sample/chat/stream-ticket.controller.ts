import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { SseTicketService, type StreamTicket } from '../../lib/index.js';

/**
 * `POST /chat/stream-ticket` (`Authorization: Bearer` only): `{ ticket, expiresInMs }`, a
 * single-use credential for `GET /chat/notifications?ticket=…`, worthless after a few seconds.
 * `STREAM_TICKETS=off` removes this route (and tickets are then refused).
 */
@Controller('chat')
export class StreamTicketController {
  constructor(private readonly tickets: SseTicketService) {}

  @Post('stream-ticket')
  @HttpCode(200)
  issue(@Req() request: IncomingMessage): Promise<StreamTicket> {
    return this.tickets.issueForRequest(request);
  }
}
