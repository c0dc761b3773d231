import type { ArgumentsHost } from '@nestjs/common';
import type { Socket } from 'socket.io';

/*
 * A gateway call's arguments, read straight from the host: `[socket, data, ...ack, pattern]` (Nest's
 * WsProxy appends the pattern last). `host.switchToWs()` reads the same, but builds and assigns
 * three closures on every call; these run on every message.
 */

/** The socket of a gateway call (`switchToWs().getClient()`). */
export function wsClientOf(host: ArgumentsHost): Socket | undefined {
  return host.getArgByIndex<Socket | undefined>(0);
}

/** The message payload of a gateway call (`switchToWs().getData()`). */
export function wsDataOf(host: ArgumentsHost): unknown {
  return host.getArgByIndex<unknown>(1);
}

/** The event name of a gateway call (`switchToWs().getPattern()`). */
export function wsPatternOf(host: ArgumentsHost): unknown {
  const args = host.getArgs();
  return args[args.length - 1];
}
