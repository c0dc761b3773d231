import type { Socket } from 'socket.io';
import type { SecurityErrorBody } from '../exceptions/ws-security.exception.js';

/** Answers through the ack when the client asked for one, else as an `exception` event. */
export function reply(socket: Socket, ack: ((body: unknown) => void) | undefined, body: SecurityErrorBody | Record<string, unknown>): void {
  if (ack !== undefined) ack(body);
  else if ('error' in body) socket.emit('exception', body);
}
