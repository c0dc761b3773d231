import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { WsPrincipal, WsPublic, type Principal } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, TRANSPORTS } from '../support/clients.js';
import { signToken } from '../support/tokens.js';

@WebSocketGateway({ namespace: '/chat' })
class EchoGateway {
  @WsPublic()
  @SubscribeMessage('whoami')
  whoami(@WsPrincipal() principal: Principal, @ConnectedSocket() _s: Socket, @MessageBody() _b: unknown) {
    return { userId: principal.userId, tenantId: principal.tenantId };
  }
}

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startApp({ gateways: [EchoGateway] }); });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  it.each(TRANSPORTS)('refuses no token and accepts a good one over %s', async (transport) => {
    const refused = await connect(t.url, '/chat', { transports: [transport] });
    expect(refused.connected).toBe(false);
    expect(refused.error?.data?.code).toBe('UNAUTHORIZED');
    const ok = await connect(t.url, '/chat', { transports: [transport], auth: { token: signToken() } });
    expect(ok.connected).toBe(true);
    const me = await ok.socket.emitWithAck('whoami', {});
    expect(me).toEqual({ userId: 'alice', tenantId: 'acme' });
  });
});
