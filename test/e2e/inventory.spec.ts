import type { INestApplication, LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import {
  RealtimeSecurityModule,
  SecureIoAdapter,
  SecurityInventoryService,
  WsAuthorize,
  WsPublic,
  type SecurityInventory,
} from '../../lib/index.js';
import { formatInventory } from '../../lib/inventory/inventory.formatter.js';
import { closeAllClients, connected } from '../support/clients.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';

/** Keeps every log line, to check what start-up says. */
class LinesLogger implements LoggerService {
  readonly lines: Array<{ level: string; text: string }> = [];
  log(message: unknown): void { this.lines.push({ level: 'log', text: String(message) }); }
  warn(message: unknown): void { this.lines.push({ level: 'warn', text: String(message) }); }
  error(message: unknown): void { this.lines.push({ level: 'error', text: String(message) }); }
  debug(message: unknown): void { this.lines.push({ level: 'debug', text: String(message) }); }
  verbose(message: unknown): void { this.lines.push({ level: 'verbose', text: String(message) }); }
}

@WebSocketGateway({ namespace: '/chat', transports: ['websocket'], maxHttpBufferSize: 4096 })
class ChatGateway {
  @WsAuthorize('channel:read', { resource: 'channelId' })
  @SubscribeMessage('channel:join')
  join() {
    return { ok: true };
  }

  @WsAuthorize('channel:write', { resource: (dto) => (dto as { channel?: { id?: unknown } }).channel?.id })
  @SubscribeMessage('message:send')
  send() {
    return { ok: true };
  }

  @WsPublic()
  @SubscribeMessage('channel:leave')
  leave() {
    return { ok: true };
  }

  @SubscribeMessage('debug:dump')
  forgotten() {
    return { oops: true };
  }
}

@WsAuthorize('moderation:read')
@WebSocketGateway({ namespace: 'moderation' })
class ModerationGateway {
  @SubscribeMessage('presence:list')
  list() {
    return { ok: true };
  }

  @WsAuthorize('moderation:write')
  @SubscribeMessage('kick')
  kick() {
    return { ok: true };
  }
}

describe('the security inventory', () => {
  let app: INestApplication;
  let logger: LinesLogger;
  let inventory: SecurityInventory;
  let url: string;

  beforeAll(async () => {
    logger = new LinesLogger();
    const moduleRef = await Test.createTestingModule({
      imports: [RealtimeSecurityModule.forRoot({
        jwt: { secret: TEST_SECRET },
        credentials: { cookieName: 'rt_session' },
        origins: { allowed: ['https://app.example.com'], enforce: 'cookie' },
        tokens: { graceSeconds: 5 },
        connections: { maxPerUser: 3 },
        logSecurityEvents: false,
      })],
      providers: [ChatGateway, ModerationGateway],
    }).compile();
    app = moduleRef.createNestApplication({ logger });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    inventory = app.get(SecurityInventoryService).getInventory();
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await app.close(); });

  it('lists every secured namespace with its transports, credentials, Origin policy, tokens and limits', () => {
    expect(inventory.namespaces.map((n) => n.namespace)).toEqual(['/', '/chat', '/moderation']);
    expect(inventory.state).toBe('in-memory');
    const chat = inventory.namespaces.find((n) => n.namespace === '/chat');
    expect(chat).toEqual(expect.objectContaining({
      dynamic: false,
      path: '/socket.io',
      port: 0,
      transports: ['websocket'],
      credentials: ['auth.token (handshake payload)', 'Authorization: Bearer header', 'cookie rt_session'],
      origins: { enforce: 'cookie', allowed: ['https://app.example.com'] },
      tokens: { graceSeconds: 5, refreshEvent: 'auth:refresh' },
      limits: {
        maxConnectionsPerUser: 3, maxConnectionsTotal: 10_000, maxMessageBytes: 4096, connectTimeoutMs: 10_000, maxAttachments: 10, maxBufferedBytes: 1_048_576,
        messagesPerUser: 100, messageWindowMs: 10_000, handshakesPerAddress: 600, handshakeWindowMs: 60_000,
      },
    }));
    // Engine settings are the server's: the first gateway's options created it, `/moderation` shares them.
    const moderation = inventory.namespaces.find((n) => n.namespace === '/moderation');
    expect(moderation?.limits.maxMessageBytes).toBe(4096);
    expect(moderation?.transports).toEqual(['websocket']);
    expect(inventory.namespaces.find((n) => n.namespace === '/')?.handlers).toEqual([]);
  });

  it('lists every handler with its permission, public, or DENIED', () => {
    const chat = inventory.namespaces.find((n) => n.namespace === '/chat');
    expect(chat?.handlers).toEqual([
      { event: 'channel:join', gateway: 'ChatGateway', method: 'join', access: 'permission', permission: 'channel:read', resource: 'channelId' },
      { event: 'channel:leave', gateway: 'ChatGateway', method: 'leave', access: 'public' },
      { event: 'debug:dump', gateway: 'ChatGateway', method: 'forgotten', access: 'denied' },
      { event: 'message:send', gateway: 'ChatGateway', method: 'send', access: 'permission', permission: 'channel:write', resource: '(function)' },
    ]);
    expect(inventory.namespaces.find((n) => n.namespace === '/moderation')?.handlers).toEqual([
      { event: 'kick', gateway: 'ModerationGateway', method: 'kick', access: 'permission', permission: 'moderation:write' },
      { event: 'presence:list', gateway: 'ModerationGateway', method: 'list', access: 'permission', permission: 'moderation:read' },
    ]);
    expect(inventory.denied).toEqual([{ event: 'debug:dump', gateway: 'ChatGateway', method: 'forgotten', access: 'denied' }]);
  });

  it('logs the table at start-up and names every undecorated handler', () => {
    const table = logger.lines.find((l) => l.level === 'log' && l.text.startsWith('Security inventory:'));
    expect(table?.text).toBe(formatInventory(inventory));
    expect(table?.text).toContain('server /socket.io\n');
    expect(table?.text).toContain('  namespace /chat\n');
    expect(table?.text).toContain('  namespace /: no handlers');
    expect(table?.text).toMatch(/channel:join +ChatGateway\.join +channel:read on resource channelId/);
    expect(table?.text).toMatch(/debug:dump +ChatGateway\.forgotten +DENIED/);
    expect(table?.text).toContain('cookie handshakes only from: https://app.example.com');
    expect(table?.text).toContain('closed at exp + 5 s with TOKEN_EXPIRED');
    expect(table?.text).toContain('4096 bytes per message');
    expect(table?.text).toContain('rates: 100 messages per user per 10 s, 600 handshakes per address per 60 s');
    const warnings = logger.lines.filter((l) => l.level === 'warn' && l.text.includes('has neither @WsAuthorize nor @WsPublic'));
    expect(warnings.map((w) => w.text)).toEqual([
      'ChatGateway.forgotten (event "debug:dump") has neither @WsAuthorize nor @WsPublic(): every message to it is refused with FORBIDDEN.',
    ]);
  });

  it('reports what actually runs: the DENIED handler is refused, the public one answers', async () => {
    const socket = await connected(url, '/chat', { transports: ['websocket'], auth: { token: signToken({ perms: ['*'] }) } });
    expect(await socket.emitWithAck('debug:dump', {})).toEqual({ error: { code: 'FORBIDDEN', message: 'Forbidden' } });
    expect(await socket.emitWithAck('channel:leave', {})).toEqual({ ok: true });
  });
});
