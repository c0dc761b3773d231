import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { UsePipes } from '@nestjs/common';
import type { Socket } from 'socket.io-client';
import { WsPublic, WsValidationPipe } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, TRANSPORTS } from '../support/clients.js';
import { ChannelDto, NestedDto, SendDto } from '../support/dtos.js';
import { signToken } from '../support/tokens.js';

/** What the handlers received: a handler that runs on a refused payload fails the test. */
const received: { event: string; proto: unknown; keys: string[] }[] = [];

function record(event: string, dto: object) {
  received.push({ event, proto: Object.getPrototypeOf(dto), keys: Object.keys(dto) });
}

@WebSocketGateway({ namespace: '/chat' })
@UsePipes(new WsValidationPipe())
@WsPublic()
class ValidatedGateway {
  @SubscribeMessage('channel:join')
  join(@MessageBody() dto: ChannelDto) {
    record('channel:join', dto);
    return { ok: true, isDto: dto instanceof ChannelDto };
  }

  @SubscribeMessage('message:send')
  send(@MessageBody() dto: SendDto) {
    record('message:send', dto);
    return { ok: true, length: dto.text.length };
  }

  @SubscribeMessage('nested')
  nested(@MessageBody() dto: NestedDto) {
    record('nested', dto);
    return { ok: true, tags: dto.tags.length };
  }
}

type Ack = { ok?: boolean; error?: { code: string; message: string; fields?: { path: string; constraints: string[] }[] } };

describe('WsValidationPipe over the wire (THREATS 16, 20, 21)', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startApp({ gateways: [ValidatedGateway] }); });
  afterEach(() => {
    closeAllClients();
    received.length = 0;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  afterAll(async () => { await t.close(); });

  const open = (transport: 'polling' | 'websocket', sub = 'alice'): Promise<Socket> =>
    connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub }) } });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('hands the handler a DTO instance with only the declared properties', async () => {
      const socket = await open(transport);
      expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true, isDto: true });
      expect(received).toEqual([{ event: 'channel:join', proto: ChannelDto.prototype, keys: ['channelId'] }]);
    });

    it.each([
      ['an array', [[{ channelId: 'general' }]]],
      ['several arguments', [{ channelId: 'general' }, { channelId: 'other' }]],
      ['a string', ['general']],
      ['a number', [7]],
      ['null', [null]],
      ['no argument at all', []],
    ])('refuses %s with VALIDATION_FAILED (isObject), the handler never runs', async (_name, args) => {
      const socket = await open(transport);
      const ack = (await socket.timeout(5000).emitWithAck('channel:join', ...args)) as Ack;
      expect(ack.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Validation failed', fields: [{ path: '', constraints: ['isObject'] }] });
      expect(received).toEqual([]);
    });

    it('refuses extra properties and wrong nested types, naming rules and declared paths only', async () => {
      const socket = await open(transport);
      const extra = (await socket.emitWithAck('message:send', { channelId: 'general', text: 'hi', 'ECHO-key': 'ECHO-value' })) as Ack;
      expect(extra.error?.fields).toEqual([{ path: '*', constraints: ['whitelistValidation'] }]);
      const nested = (await socket.emitWithAck('nested', { tag: { name: 'ECHO-name', weight: 'ECHO-weight' }, tags: [{ name: 'x', weight: 500 }] })) as Ack;
      expect(nested.error?.code).toBe('VALIDATION_FAILED');
      expect(nested.error?.fields?.map((f) => f.path)).toEqual(['tag.weight', 'tags[0].weight']);
      expect(nested.error?.fields?.[1].constraints).toEqual(['max']);
      expect(JSON.stringify([extra, nested])).not.toContain('ECHO');
      expect(received).toEqual([]);
    });

    it.each([
      ['__proto__', '__proto__'],
      ['constructor', 'constructor'],
      ['empty', ''],
      ['10 KB', 'a'.repeat(10 * 1024)],
      ['control characters', 'gen\u0000eral\u001b[31m'],
      ['look-alike Unicode', 'gеneral'],
      ['a number', 12],
      ['an object', { toString: 'x' }],
    ])('refuses the channel name %s (THREATS 16)', async (_name, channelId) => {
      const socket = await open(transport);
      const ack = (await socket.emitWithAck('channel:join', { channelId })) as Ack;
      expect(ack.error?.code).toBe('VALIDATION_FAILED');
      expect(ack.error?.fields?.[0].path).toBe('channelId');
      if (typeof channelId === 'string' && channelId.length > 2) expect(JSON.stringify(ack)).not.toContain(channelId.slice(0, 3) === 'gen' ? channelId : channelId.slice(0, 16));
      expect(received).toEqual([]);
    });

    it.each([
      ['__proto__ at the root', '{"channelId":"general","__proto__":{"polluted":true}}', 'channel:join', '__proto__'],
      ['constructor.prototype at the root', '{"channelId":"general","constructor":{"prototype":{"polluted":true}}}', 'channel:join', 'constructor'],
      ['__proto__ in a nested object', '{"tag":{"name":"a","weight":1,"__proto__":{"polluted":true}},"tags":[]}', 'nested', 'tag.__proto__'],
      ['constructor.prototype in an array element', '{"tag":{"name":"a","weight":1},"tags":[{"name":"b","weight":1,"constructor":{"prototype":{"polluted":true}}}]}', 'nested', 'tags[0].constructor'],
      ['prototype deep in an unknown property', '{"tag":{"name":"a","weight":1},"tags":[],"x":[{"prototype":{"polluted":true}}]}', 'nested', '*[0].prototype'],
    ])('refuses %s (THREATS 21): no object is polluted', async (_name, json, event, path) => {
      const socket = await open(transport);
      // JSON.parse makes `__proto__` an own key, so the client serializes it as sent.
      const payload = JSON.parse(json) as object;
      const ack = (await socket.emitWithAck(event, payload)) as Ack;
      expect(ack.error).toEqual({ code: 'VALIDATION_FAILED', message: 'Validation failed', fields: [{ path, constraints: ['forbiddenKey'] }] });
      expect(received).toEqual([]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it('caps depth, array length and string length', async () => {
      const socket = await open(transport);
      let deep: unknown = 'leaf';
      for (let i = 0; i < 50; i++) deep = [deep];
      const depth = (await socket.emitWithAck('nested', { tag: { name: 'a', weight: 1 }, tags: [], x: deep })) as Ack;
      expect(depth.error?.fields?.[0].constraints).toEqual(['maxDepth']);
      const long = (await socket.emitWithAck('nested', { tag: { name: 'a', weight: 1 }, tags: Array.from({ length: 300 }, () => 0) })) as Ack;
      expect(long.error?.fields).toEqual([{ path: 'tags', constraints: ['maxArrayLength'] }]);
      const text = (await socket.emitWithAck('message:send', { channelId: 'general', text: 'x'.repeat(9000) })) as Ack;
      expect(text.error?.fields).toEqual([{ path: 'text', constraints: ['maxStringLength'] }]);
      expect(received).toEqual([]);
    });

    it('without an ack, answers with an `exception` event carrying the same body', async () => {
      const socket = await open(transport);
      const exception = new Promise<Ack>((resolve) => socket.once('exception', resolve));
      socket.emit('channel:join', ['not', 'an', 'object']);
      expect(await exception).toEqual({ error: { code: 'VALIDATION_FAILED', message: 'Validation failed', fields: [{ path: '', constraints: ['isObject'] }] } });
      expect(await socket.emitWithAck('message:send', { channelId: 'general', text: 'still here' })).toEqual({ ok: true, length: 10 });
    });
  });
});
