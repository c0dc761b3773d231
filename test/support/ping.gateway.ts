import type { Type } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { WsPublic } from '../../lib/index.js';

/**
 * A fresh gateway on `namespace` (the root namespace when left out) with one public event,
 * `ping`, acked `{ ok: true }`: for tests that need a namespace to connect to and a round trip
 * (a barrier, or proof that a connection still works). Each call returns a new class.
 */
export function pingGateway(namespace?: string): Type<unknown> {
  @WebSocketGateway(namespace !== undefined ? { namespace } : {})
  class PingGateway {
    @WsPublic()
    @SubscribeMessage('ping')
    ping() {
      return { ok: true };
    }
  }
  Object.defineProperty(PingGateway, 'name', { value: `PingGateway(${namespace ?? '/'})` });
  return PingGateway;
}
