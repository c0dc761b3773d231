import { UsePipes } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io-client';
import * as z from 'zod';
import { WsPublic, WsValidationPipe } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, TRANSPORTS, type Transport } from '../support/clients.js';
import { NestedDto, SendDto } from '../support/dtos.js';
import { signToken } from '../support/tokens.js';

/**
 * Standard Schema handlers (`@MessageBody({ schema })`, zod here) over the wire: the same
 * coded, echo-free refusals and the same caps as the DTO handlers beside them (THREATS 20, 21;
 * THREAT_MODEL case 66).
 */

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];
const channelId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/).refine((id) => !FORBIDDEN.includes(id), { error: 'reserved' });
const sendSchema = z.strictObject({ channelId, text: z.string().trim().min(1).max(2000) });
const tagSchema = z.strictObject({ name: z.string().min(1).max(32), weight: z.number().int().min(0).max(100) });
const nestedSchema = z.strictObject({ tag: tagSchema, tags: z.array(tagSchema).max(10), pinned: z.boolean().optional() });
/** Parsed output differs from the input: defaults, coercion, unknown keys stripped. */
const parsingSchema = z.object({ count: z.coerce.number().int(), mode: z.enum(['fast', 'safe']).default('safe') });
/** Answers through a promise (an async refinement, e.g. a lookup). */
const asyncSchema = z.strictObject({ name: z.string() }).refine(async (v) => v.name !== 'taken', { error: 'taken', path: ['name'] });
const recordSchema = z.strictObject({ scores: z.record(z.string(), z.number()) });

/** What the handlers received: a handler that runs on a refused payload fails the test. */
const received: { event: string; value: unknown }[] = [];

@WebSocketGateway({ namespace: '/zod' })
@UsePipes(new WsValidationPipe())
@WsPublic()
class SchemaGateway {
  @SubscribeMessage('message:send')
  send(@MessageBody({ schema: sendSchema }) body: z.infer<typeof sendSchema>) {
    received.push({ event: 'message:send', value: body });
    return { ok: true, text: body.text };
  }

  @SubscribeMessage('nested')
  nested(@MessageBody({ schema: nestedSchema }) body: z.infer<typeof nestedSchema>) {
    received.push({ event: 'nested', value: body });
    return { ok: true, tags: body.tags.length };
  }

  @SubscribeMessage('parse')
  parse(@MessageBody({ schema: parsingSchema }) body: z.infer<typeof parsingSchema>) {
    received.push({ event: 'parse', value: body });
    return { ok: true, body };
  }

  @SubscribeMessage('async')
  async(@MessageBody({ schema: asyncSchema }) body: z.infer<typeof asyncSchema>) {
    received.push({ event: 'async', value: body });
    return { ok: true, name: body.name };
  }

  @SubscribeMessage('field')
  field(@MessageBody('channelId', { schema: channelId }) id: string) {
    received.push({ event: 'field', value: id });
    return { ok: true, id };
  }

  @SubscribeMessage('pipe-option')
  pipeOption(@MessageBody(new WsValidationPipe({ schema: sendSchema })) body: z.infer<typeof sendSchema>) {
    received.push({ event: 'pipe-option', value: body });
    return { ok: true, text: body.text };
  }

  @SubscribeMessage('record')
  record(@MessageBody({ schema: recordSchema }) body: z.infer<typeof recordSchema>) {
    received.push({ event: 'record', value: body });
    return { ok: true };
  }
}

@WebSocketGateway({ namespace: '/dto' })
@UsePipes(new WsValidationPipe())
@WsPublic()
class DtoGateway {
  @SubscribeMessage('message:send')
  send(@MessageBody() body: SendDto) {
    received.push({ event: 'dto message:send', value: body });
    return { ok: true, text: body.text };
  }

  @SubscribeMessage('nested')
  nested(@MessageBody() body: NestedDto) {
    received.push({ event: 'dto nested', value: body });
    return { ok: true, tags: body.tags.length };
  }
}

type Fields = { path: string; constraints: string[] }[];
type Ack = { ok?: boolean; error?: { code: string; message: string; fields?: Fields } };

function deep(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('Standard Schema handlers over the wire: as strict as DTO handlers', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startApp({ gateways: [SchemaGateway, DtoGateway] }); });
  afterEach(() => {
    closeAllClients();
    received.length = 0;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  afterAll(async () => { await t.close(); });

  const open = (nsp: string, transport: Transport): Promise<Socket> =>
    connected(t.url, nsp, { transports: [transport], auth: { token: signToken() } });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('hands the handler the schema output: trimmed, coerced, defaulted, unknown keys stripped', async () => {
      const socket = await open('/zod', transport);
      expect(await socket.emitWithAck('message:send', { channelId: 'general', text: '  hi  ' })).toEqual({ ok: true, text: 'hi' });
      expect(await socket.emitWithAck('parse', { count: '42', extra: 'dropped' })).toEqual({ ok: true, body: { count: 42, mode: 'safe' } });
      expect(await socket.emitWithAck('field', { channelId: 'general' })).toEqual({ ok: true, id: 'general' });
      expect(await socket.emitWithAck('async', { name: 'free' })).toEqual({ ok: true, name: 'free' });
      expect(received.map((r) => r.event)).toEqual(['message:send', 'parse', 'field', 'async']);
    });

    it('takes the schema from a parameter pipe too (Nest 11): same output, same refusals', async () => {
      const socket = await open('/zod', transport);
      expect(await socket.emitWithAck('pipe-option', { channelId: 'general', text: '  hi  ' })).toEqual({ ok: true, text: 'hi' });
      const refused = (await socket.emitWithAck('pipe-option', JSON.parse('{"channelId":"general","text":"hi","__proto__":{"polluted":true}}'))) as Ack;
      expect(refused.error?.fields).toEqual([{ path: '__proto__', constraints: ['forbiddenKey'] }]);
      const wrong = (await socket.emitWithAck('pipe-option', { channelId: 'general', text: 5 })) as Ack;
      expect(wrong.error?.fields).toEqual([{ path: 'text', constraints: ['invalid_type'] }]);
      expect(received.map((r) => r.event)).toEqual(['pipe-option']);
    });

    it('refuses a pipe option that is not a Standard Schema at construction, saying what to pass', () => {
      expect(() => new WsValidationPipe({ schema: { parse: () => 1 } as never })).toThrow(/option `schema` is not a Standard Schema/);
    });

    // Each bad payload goes to the zod handler and to the DTO handler of the same shape.
    const SAME: Array<[string, string, unknown[], Fields | null]> = [
      ['an array', 'message:send', [[{ channelId: 'general', text: 'hi' }]], null],
      ['several arguments', 'message:send', [{ channelId: 'general', text: 'hi' }, { channelId: 'b', text: 'x' }], null],
      ['a string', 'message:send', ['ECHO-string'], null],
      ['null', 'message:send', [null], null],
      ['an extra property', 'message:send', [{ channelId: 'general', text: 'hi', 'ECHO-key': 'ECHO-value' }], null],
      ['a wrong type', 'message:send', [{ channelId: 'general', text: 12345 }], null],
      ['a bad channel id', 'message:send', [{ channelId: 'ECHO channel!', text: 'hi' }], null],
      ['a reserved channel id', 'message:send', [{ channelId: 'prototype', text: 'hi' }], null],
      ['wrong nested types', 'nested', [{ tag: { name: 'ECHO-name', weight: 'ECHO-weight' }, tags: [{ name: 'x', weight: 500 }] }], null],
      ['__proto__ at the root', 'message:send', [JSON.parse('{"channelId":"general","text":"hi","__proto__":{"polluted":true}}')], [{ path: '__proto__', constraints: ['forbiddenKey'] }]],
      ['constructor.prototype at the root', 'message:send', [JSON.parse('{"channelId":"general","text":"hi","constructor":{"prototype":{"polluted":true}}}')], [{ path: 'constructor', constraints: ['forbiddenKey'] }]],
      ['__proto__ in a nested object', 'nested', [JSON.parse('{"tag":{"name":"a","weight":1,"__proto__":{"polluted":true}},"tags":[]}')], [{ path: 'tag.__proto__', constraints: ['forbiddenKey'] }]],
      ['constructor.prototype in an array element', 'nested', [JSON.parse('{"tag":{"name":"a","weight":1},"tags":[{"name":"b","weight":1,"constructor":{"prototype":{"polluted":true}}}]}')], [{ path: 'tags[0].constructor', constraints: ['forbiddenKey'] }]],
      ['prototype deep in an unknown property', 'nested', [JSON.parse('{"tag":{"name":"a","weight":1},"tags":[],"ECHO-x":[{"prototype":{"polluted":true}}]}')], [{ path: '*[0].prototype', constraints: ['forbiddenKey'] }]],
      ['a payload 50 levels deep', 'nested', [{ tag: { name: 'a', weight: 1 }, tags: [], x: deep(50) }], [{ path: '*[0][0][0][0][0][0][0]', constraints: ['maxDepth'] }]],
      ['an array of 300', 'nested', [{ tag: { name: 'a', weight: 1 }, tags: Array.from({ length: 300 }, () => 0) }], [{ path: 'tags', constraints: ['maxArrayLength'] }]],
      ['a 9,000-character string', 'message:send', [{ channelId: 'general', text: 'ECHO'.repeat(2250) }], [{ path: 'text', constraints: ['maxStringLength'] }]],
      ['an object of 100 properties', 'nested', [{ tag: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`ECHO${i}`, i])), tags: [] }], [{ path: 'tag', constraints: ['maxProperties'] }]],
    ];

    it.each(SAME)('refuses %s like the DTO handler: VALIDATION_FAILED, same paths, nothing echoed, no handler', async (_name, event, args, fields) => {
      const [zod, dto] = await Promise.all([open('/zod', transport), open('/dto', transport)]);
      const [viaSchema, viaDto] = (await Promise.all([zod.timeout(5000).emitWithAck(event, ...args), dto.timeout(5000).emitWithAck(event, ...args)])) as [Ack, Ack];
      for (const ack of [viaSchema, viaDto]) {
        expect(ack.error?.code).toBe('VALIDATION_FAILED');
        expect(ack.error?.message).toBe('Validation failed');
        expect(JSON.stringify(ack)).not.toContain('ECHO');
        expect(ack.error?.fields?.length).toBeGreaterThan(0);
      }
      if (fields !== null) {
        // The pipe's own checks, before any schema or DTO: identical answers.
        expect(viaSchema.error?.fields).toEqual(fields);
        expect(viaDto.error?.fields).toEqual(fields);
      } else {
        // The schema's and class-validator's rule names differ; the paths they name are the same.
        const paths = (a: Ack) => [...new Set(a.error?.fields?.map((f) => f.path.replace(/^\*$/, '')))].sort();
        expect(paths(viaSchema)).toEqual(paths(viaDto));
      }
      expect(received).toEqual([]);
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it('names rules from the issue codes, and paths the schema declares; a client-chosen key is *', async () => {
      const socket = await open('/zod', transport);
      const nested = (await socket.emitWithAck('nested', { tag: { name: '', weight: 1.5 }, tags: [{ name: 'x', weight: 500 }] })) as Ack;
      expect(nested.error?.fields).toEqual([
        { path: 'tag.name', constraints: ['too_small'] },
        { path: 'tag.weight', constraints: ['invalid_type'] },
        { path: 'tags[0].weight', constraints: ['too_big'] },
      ]);
      const unknown = (await socket.emitWithAck('message:send', { channelId: 'general', text: 'hi', 'ECHO-key': 1 })) as Ack;
      expect(unknown.error?.fields).toEqual([{ path: '', constraints: ['unrecognized_keys'] }]);
      const record = (await socket.emitWithAck('record', { scores: { alice: 1, ECHOMARK: 'ECHO-value' } })) as Ack;
      expect(record.error?.fields).toEqual([{ path: 'scores.*', constraints: ['invalid_type'] }]);
      const field = (await socket.emitWithAck('field', { channelId: 'ECHO no' })) as Ack;
      expect(field.error?.fields).toEqual([{ path: 'channelId', constraints: ['invalid_format'] }]);
      const asyncRefusal = (await socket.emitWithAck('async', { name: 'taken' })) as Ack;
      expect(asyncRefusal.error?.fields).toEqual([{ path: 'name', constraints: ['custom'] }]);
      expect(JSON.stringify([nested, unknown, record, field, asyncRefusal])).not.toContain('ECHO');
      expect(received).toEqual([]);
    });
  });
});
