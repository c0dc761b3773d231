import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { IsString } from 'class-validator';
import { WsSecurityException, WsValidationPipe } from '../../lib/index.js';
import { ChannelDto, NestedDto, SendDto } from '../support/dtos.js';

const body = (metatype: ArgumentMetadata['metatype'], data?: string): ArgumentMetadata => ({ type: 'body', metatype, data });

interface Refusal {
  code: string;
  fields: { path: string; constraints: string[] }[];
  json: string;
}

/** Runs a transform (which may throw at once, or reject) and reads its refusal. */
async function refusal(run: () => unknown): Promise<Refusal> {
  let outcome: unknown;
  try {
    outcome = await run();
  } catch (error) {
    if (!(error instanceof WsSecurityException)) throw error;
    const body = error.getBody();
    return { code: body.error.code, fields: (body.error.fields ?? []).map((f) => ({ path: f.path, constraints: [...f.constraints] })), json: JSON.stringify(body) };
  }
  throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`);
}

class NoRulesDto {
  name!: string;
}

class ReservedDto {
  @IsString()
  name!: string;
}

describe('WsValidationPipe, called directly', () => {
  const pipe = new WsValidationPipe();
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it('returns an instance of the DTO with the declared properties only', async () => {
    const result = await pipe.transform({ channelId: 'general' }, body(ChannelDto));
    expect(result).toBeInstanceOf(ChannelDto);
    expect(Object.getPrototypeOf(result)).toBe(ChannelDto.prototype);
    expect(Object.keys(result as object)).toEqual(['channelId']);
  });

  it('transforms nested DTOs and arrays of them', async () => {
    const result = (await pipe.transform({ tag: { name: 'a', weight: 1 }, tags: [{ name: 'b', weight: 2 }] }, body(NestedDto))) as NestedDto;
    expect(result).toBeInstanceOf(NestedDto);
    expect(Object.getPrototypeOf(result.tag)).toBe(Object.getPrototypeOf(result.tags[0]));
    expect(result.tag.constructor.name).toBe('TagDto');
  });

  it.each([
    ['an array', [{ channelId: 'a' }]],
    ['several arguments (Nest passes them as an array)', [{ channelId: 'a' }, { channelId: 'b' }]],
    ['a string', 'general'],
    ['a number', 42],
    ['a boolean', true],
    ['null', null],
    ['nothing', undefined],
    ['an object with another prototype', Object.create({ channelId: 'inherited' }) as object],
  ])('refuses %s where a DTO is expected', async (_name, payload) => {
    const r = await refusal(() => pipe.transform(payload, body(ChannelDto)));
    expect(r).toMatchObject({ code: 'VALIDATION_FAILED', fields: [{ path: '', constraints: ['isObject'] }] });
  });

  it('refuses unknown properties without naming them', async () => {
    const r = await refusal(() => pipe.transform({ channelId: 'a', 'secret-ECHO-key': 'ECHO-value' }, body(ChannelDto)));
    expect(r.fields).toEqual([{ path: '*', constraints: ['whitelistValidation'] }]);
    expect(r.json).not.toContain('ECHO');
  });

  it('reports wrong nested types by declared path and rule name, never by value', async () => {
    const r = await refusal(() => pipe.transform({ tag: { name: 'ECHO-1', weight: 'ECHO-2' }, tags: [{ name: 'b', weight: 1, ECHO: 3 }] }, body(NestedDto)));
    expect(r.fields).toEqual([
      { path: 'tag.weight', constraints: expect.arrayContaining(['isInt']) },
      { path: 'tags[0].*', constraints: ['whitelistValidation'] },
    ]);
    expect(r.json).not.toContain('ECHO');
  });

  it('reports every wrong field of a flat DTO', async () => {
    const r = await refusal(() => pipe.transform({ channelId: 7, text: '' }, body(SendDto)));
    expect(r.fields.map((f) => f.path)).toEqual(['channelId', 'text']);
    expect(r.fields[0].constraints).toContain('isString');
    expect(r.fields[1].constraints).toEqual(['isLength']);
  });

  describe('prototype pollution (keys as JSON.parse creates them)', () => {
    it.each([
      ['__proto__ at the root', '{"channelId":"a","__proto__":{"polluted":true}}', '__proto__'],
      ['constructor.prototype at the root', '{"channelId":"a","constructor":{"prototype":{"polluted":true}}}', 'constructor'],
      ['prototype at the root', '{"channelId":"a","prototype":{"polluted":true}}', 'prototype'],
    ])('refuses %s', async (_name, json, path) => {
      const r = await refusal(() => pipe.transform(JSON.parse(json), body(ChannelDto)));
      expect(r.fields).toEqual([{ path, constraints: ['forbiddenKey'] }]);
    });

    it.each([
      ['inside a nested object', '{"tag":{"name":"a","weight":1,"__proto__":{"polluted":true}},"tags":[]}', 'tag.__proto__'],
      ['inside an array element', '{"tag":{"name":"a","weight":1},"tags":[{"name":"b","weight":1,"constructor":{"prototype":{"polluted":true}}}]}', 'tags[0].constructor'],
      ['deep inside an unknown property', '{"tag":{"name":"a","weight":1},"tags":[],"x":[[{"__proto__":{"polluted":true}}]]}', '*[0][0].__proto__'],
    ])('refuses one %s', async (_name, json, path) => {
      const r = await refusal(() => pipe.transform(JSON.parse(json), body(NestedDto)));
      expect(r.fields).toEqual([{ path, constraints: ['forbiddenKey'] }]);
    });

    it('leaves no inherited surprise on an accepted DTO', async () => {
      const result = await pipe.transform(JSON.parse('{"channelId":"general"}'), body(ChannelDto));
      expect(Object.getPrototypeOf(result)).toBe(ChannelDto.prototype);
      expect(Object.getPrototypeOf(ChannelDto.prototype)).toBe(Object.prototype);
      expect((result as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('refuses a constructor property even on a DTO that declares a field of that name', async () => {
      const r = await refusal(() => pipe.transform(JSON.parse('{"name":"a","constructor":"x"}'), body(ReservedDto)));
      expect(r.fields).toEqual([{ path: 'constructor', constraints: ['forbiddenKey'] }]);
    });
  });

  describe('structural caps, checked before anything is transformed', () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 'leaf';
      for (let i = 0; i < levels; i++) v = { x: v };
      return v;
    };

    it('caps depth at 8 by default (the payload object is depth 1)', async () => {
      const ok = { tag: { name: 'a', weight: 1 }, tags: [], x: nest(7) };
      expect((await refusal(() => pipe.transform(ok, body(NestedDto)))).fields[0].constraints).toEqual(['whitelistValidation']);
      const deep = { tag: { name: 'a', weight: 1 }, tags: [], x: nest(8) };
      expect((await refusal(() => pipe.transform(deep, body(NestedDto)))).fields).toEqual([{ path: '*.*.*.*.*.*.*.*', constraints: ['maxDepth'] }]);
    });

    it('survives a payload nested far beyond the cap without recursing into it', async () => {
      let v: unknown = [];
      for (let i = 0; i < 100_000; i++) v = [v];
      expect((await refusal(() => pipe.transform({ channelId: 'a', x: v }, body(ChannelDto)))).fields[0].constraints).toEqual(['maxDepth']);
    });

    it('caps array length at 256 by default', async () => {
      const tags = Array.from({ length: 257 }, () => 1);
      expect((await refusal(() => pipe.transform({ tag: { name: 'a', weight: 1 }, tags }, body(NestedDto)))).fields).toEqual([{ path: 'tags', constraints: ['maxArrayLength'] }]);
    });

    it('caps string length at 8192 by default, for values and property names', async () => {
      expect((await refusal(() => pipe.transform({ channelId: 'a'.repeat(8193) }, body(ChannelDto)))).fields).toEqual([{ path: 'channelId', constraints: ['maxStringLength'] }]);
      expect((await refusal(() => pipe.transform({ ['k'.repeat(8193)]: 1 }, body(ChannelDto)))).fields).toEqual([{ path: '', constraints: ['maxStringLength'] }]);
    });

    it('caps properties per object at 64 by default', async () => {
      const wide: Record<string, number> = {};
      for (let i = 0; i < 65; i++) wide[`k${i}`] = i;
      expect((await refusal(() => pipe.transform(wide, body(ChannelDto)))).fields).toEqual([{ path: '', constraints: ['maxProperties'] }]);
    });

    it('takes other caps from its options', async () => {
      const strict = new WsValidationPipe({ maxStringLength: 10, maxDepth: 1 });
      expect((await refusal(() => strict.transform({ channelId: 'abcdefghijk' }, body(ChannelDto)))).fields[0].constraints).toEqual(['maxStringLength']);
      expect(await strict.transform({ channelId: 'abcdefghij' }, body(ChannelDto))).toBeInstanceOf(ChannelDto);
      expect((await refusal(() => strict.transform({ tag: {}, tags: [] }, body(NestedDto)))).fields[0].constraints).toEqual(['maxDepth']);
    });

    it.each([
      [{ maxDepth: 0 }, 'maxDepth'],
      [{ maxArrayLength: -1 }, 'maxArrayLength'],
      [{ maxStringLength: 1.5 }, 'maxStringLength'],
      [{ maxProperties: Number.NaN }, 'maxProperties'],
      [{ maxReportedFields: 0 }, 'maxReportedFields'],
    ])('refuses bad options at construction (%j)', (options, name) => {
      expect(() => new WsValidationPipe(options)).toThrow(new RegExp(`option \`${name}\` must be an integer`));
    });
  });

  it('refuses a DTO class without rules (unknown value), as class-validator would', async () => {
    expect((await refusal(() => pipe.transform({ name: 'a' }, body(NoRulesDto)))).fields).toEqual([{ path: '', constraints: ['unknownValue'] }]);
  });

  it('accepts a payload it already transformed (a pipe applied twice)', async () => {
    const once = await pipe.transform({ tag: { name: 'a', weight: 1 }, tags: [{ name: 'b', weight: 2 }] }, body(NestedDto));
    const twice = await pipe.transform(once, body(NestedDto));
    expect(twice).toBeInstanceOf(NestedDto);
  });

  it('checks primitive parameter types (`@MessageBody("channelId") id: string`)', async () => {
    expect(await pipe.transform('general', body(String, 'channelId'))).toBe('general');
    expect((await refusal(() => pipe.transform({ a: 1 }, body(String, 'channelId')))).fields).toEqual([{ path: 'channelId', constraints: ['isString'] }]);
    expect((await refusal(() => pipe.transform('1', body(Number, 'n')))).fields).toEqual([{ path: 'n', constraints: ['isNumber'] }]);
    expect((await refusal(() => pipe.transform('a'.repeat(9000), body(String, 'channelId')))).fields).toEqual([{ path: 'channelId', constraints: ['maxStringLength'] }]);
  });

  it('applies the structural checks to untyped payloads', async () => {
    expect(await pipe.transform({ a: [1, 'b'] }, body(Object))).toEqual({ a: [1, 'b'] });
    expect((await refusal(() => pipe.transform(JSON.parse('[{"__proto__":{}}]'), body(Object)))).fields).toEqual([{ path: '[0].__proto__', constraints: ['forbiddenKey'] }]);
    expect((await refusal(() => pipe.transform({ f: () => 1 }, body(undefined)))).fields).toEqual([{ path: '*', constraints: ['unsupportedType'] }]);
  });

  it('leaves other parameters (socket, ack, custom decorators) alone', async () => {
    const socketLike = { id: 'x', __proto__: null };
    expect(await pipe.transform(socketLike, { type: 'custom', metatype: Object })).toBe(socketLike);
  });
});
