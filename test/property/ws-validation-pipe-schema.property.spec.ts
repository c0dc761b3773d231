import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import fc from 'fast-check';
import * as z from 'zod';
import { WsSecurityException, WsValidationPipe } from '../../lib/index.js';

/**
 * The DTO guarantees, for handlers that validate with a Standard Schema (zod here):
 * each payload gives the schema's parsed output (checked by hand) or `VALIDATION_FAILED` with no
 * submitted value in it; the caps and the forbidden keys are enforced before the schema ever
 * runs; async schemas behave the same.
 */
const MARK = 'ECHO-MARK';
const pipe = new WsValidationPipe();
const CHANNEL = /^[A-Za-z0-9_-]{1,64}$/;
const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

const sendSchema = z.strictObject({
  channelId: z.string().regex(CHANNEL).refine((id) => !FORBIDDEN.includes(id)),
  // trim() first: zod 4 runs checks and overwrites in order (min(1) before trim() would pass ' ' and hand over '').
  text: z.string().trim().min(1).max(2000),
});
const tagSchema = z.strictObject({ name: z.string().min(1).max(32), weight: z.number().int().min(0).max(100) });
const nestedSchema = z.object({ tag: tagSchema, tags: z.array(tagSchema).max(10), pinned: z.boolean().nullish() });

/** Wraps a schema to count how often its `validate` runs, optionally answering through a promise. */
function counted<S extends StandardSchemaV1>(schema: S, async = false): { schema: StandardSchemaV1; calls: () => number } {
  let calls = 0;
  const standard = schema['~standard'];
  const wrapped: StandardSchemaV1 = {
    '~standard': {
      ...standard,
      validate: (value: unknown) => {
        calls += 1;
        const result = standard.validate(value);
        return async ? Promise.resolve(result) : result;
      },
    },
  };
  return { schema: wrapped, calls: () => calls };
}

const body = (schema: StandardSchemaV1): ArgumentMetadata => ({ type: 'body', metatype: Object, schema });

function isValidSend(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return false;
  const o = v as Record<string, unknown>;
  return Object.keys(o).sort().join() === 'channelId,text' && typeof o.channelId === 'string' && CHANNEL.test(o.channelId)
    && !FORBIDDEN.includes(o.channelId) && typeof o.text === 'string' && o.text.length >= 1 && o.text.length <= 2000 && o.text === o.text.trim();
}

function isValidTag(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return Object.keys(o).sort().join() === 'name,weight' && typeof o.name === 'string' && o.name.length >= 1 && o.name.length <= 32
    && Number.isInteger(o.weight) && (o.weight as number) >= 0 && (o.weight as number) <= 100;
}

function isValidNested(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  // zod's object() strips unknown keys: only declared ones reach the handler.
  if (Object.keys(o).some((k) => !['tag', 'tags', 'pinned'].includes(k))) return false;
  if (o.pinned !== undefined && o.pinned !== null && typeof o.pinned !== 'boolean') return false;
  return isValidTag(o.tag) && Array.isArray(o.tags) && o.tags.length <= 10 && o.tags.every(isValidTag);
}

type Outcome = { kind: 'valid' } | { kind: 'refused'; constraints: string[] };

async function outcome(payload: unknown, schema: StandardSchemaV1, isValid: (v: unknown) => boolean): Promise<Outcome> {
  let result: unknown;
  try {
    result = await pipe.transform(payload, body(schema));
  } catch (error) {
    if (!(error instanceof WsSecurityException)) throw new Error(`threw something else: ${String(error)}`);
    const refusal = error.getBody();
    if (refusal.error.code !== 'VALIDATION_FAILED') throw new Error(`wrong code ${refusal.error.code}`);
    const fields = refusal.error.fields ?? [];
    if (fields.length === 0 || fields.some((f) => typeof f.path !== 'string' || f.constraints.length === 0 || f.constraints.some((c) => typeof c !== 'string'))) {
      throw new Error(`malformed fields ${JSON.stringify(fields)}`);
    }
    if (JSON.stringify(refusal).includes(MARK)) throw new Error(`echoed input: ${JSON.stringify(refusal)}`);
    return { kind: 'refused', constraints: fields.flatMap((f) => f.constraints) };
  }
  if (!isValid(result)) throw new Error(`returned an invalid value: ${JSON.stringify(result)}`);
  return { kind: 'valid' };
}

const key = fc.oneof(
  fc.constantFrom('channelId', 'text', 'tag', 'tags', 'name', 'weight', 'pinned'),
  fc.constantFrom(...FORBIDDEN),
  fc.constant(`${MARK}-key`),
  fc.constant(MARK.replace('-', '')),
  fc.string({ maxLength: 12 }),
);
const markedString = fc.oneof(fc.string({ maxLength: 40 }), fc.constant(MARK), fc.string({ maxLength: 8 }).map((s) => `${MARK}${s}`));
const leaf = fc.oneof(markedString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 6 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 6 }).map((entries) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }),
  ),
})).value;
const wire = jsonish.map((v) => {
  const text = JSON.stringify(v);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
});
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: markedString, weight: 1 }, { arbitrary: leaf, weight: 1 });
const tag = fc.record({ name: mostly(fc.string({ minLength: 1, maxLength: 32 })), weight: mostly(fc.integer({ min: 0, max: 100 })) });
const extra = fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.tuple(key, jsonish), weight: 1 });
const nearSend = fc.tuple(
  fc.record({ channelId: mostly(fc.stringMatching(CHANNEL)), text: mostly(fc.string({ minLength: 1, maxLength: 50 })) }, { requiredKeys: ['channelId', 'text'] }),
  extra,
).map(([record, more]) => withExtra(record, more));
const nearNested = fc.tuple(
  fc.record({ tag, tags: fc.array(tag, { maxLength: 3 }), pinned: mostly(fc.boolean()) }, { requiredKeys: ['tag', 'tags'] }),
  extra,
).map(([record, more]) => withExtra(record, more));

function withExtra(record: object, more: [string, unknown] | undefined): unknown {
  const o: Record<string, unknown> = { ...record };
  if (more !== undefined) Object.defineProperty(o, more[0], { value: more[1], enumerable: true, writable: true, configurable: true });
  return JSON.parse(JSON.stringify(o)) as unknown;
}

const CAP_RULES = ['maxDepth', 'maxArrayLength', 'maxStringLength', 'maxProperties', 'forbiddenKey', 'unsupportedType'];

describe.each([['synchronous', false], ['async', true]] as const)('WsValidationPipe property, Standard Schema (%s validate)', (_name, async) => {
  const seen = { valid: 0, refused: 0 };
  const count = (o: Outcome) => { seen[o.kind] += 1; };
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
  afterAll(() => {
    expect(seen.valid).toBeGreaterThan(500);
    expect(seen.refused).toBeGreaterThan(500);
  });

  it('gives the parsed output or VALIDATION_FAILED for arbitrary JSON-shaped and near-valid payloads', async () => {
    const send = counted(sendSchema, async).schema;
    const nested = counted(nestedSchema, async).schema;
    await fc.assert(fc.asyncProperty(wire, async (p) => count(await outcome(p, send, isValidSend))), { numRuns: 500 });
    await fc.assert(fc.asyncProperty(nearSend, async (p) => count(await outcome(p, send, isValidSend))), { numRuns: 800 });
    await fc.assert(fc.asyncProperty(nearNested, async (p) => count(await outcome(p, nested, isValidNested))), { numRuns: 800 });
  });

  it('holds for any JavaScript value, not only decoded JSON', async () => {
    const send = counted(sendSchema, async).schema;
    const anything = fc.anything({ key, maxDepth: 4, withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true, withDate: true, withBigInt: true, withSparseArray: true, withBoxedValues: true });
    await fc.assert(fc.asyncProperty(anything, async (p) => count(await outcome(p, send, isValidSend))), { numRuns: 500 });
  });

  it('refuses every payload with a dangerous key, at any depth, before the schema runs', async () => {
    // A lax schema that would accept anything: only the pipe's own check can refuse.
    const lax = counted(z.any(), async);
    const dangerous = fc.tuple(nearNested, fc.constantFrom(...FORBIDDEN), fc.nat({ max: 3 })).map(([p, k, where]) => {
      const text = JSON.stringify(p);
      const inject = `"${k}":{"polluted":true}`;
      if (where === 0) return JSON.parse(`{${inject},${text.slice(1)}`) as unknown;
      const o = JSON.parse(text) as { tag: unknown; tags: unknown; deep?: unknown };
      if (where === 1) o.tag = JSON.parse(`{${inject}}`);
      else if (where === 2) o.tags = [JSON.parse(`{${inject}}`), ...(Array.isArray(o.tags) ? o.tags : [])];
      else o.deep = [[{ a: [JSON.parse(`{${inject}}`)] }]];
      return o;
    });
    await fc.assert(fc.asyncProperty(dangerous, async (p) => {
      const result = await outcome(p, lax.schema, () => true);
      count(result);
      expect(result).toEqual({ kind: 'refused', constraints: ['forbiddenKey'] });
    }), { numRuns: 800 });
    expect(lax.calls()).toBe(0);
    // And the strict schemas refuse them the same way.
    await fc.assert(fc.asyncProperty(dangerous, async (p) => {
      expect(await outcome(p, counted(nestedSchema, async).schema, isValidNested)).toEqual({ kind: 'refused', constraints: ['forbiddenKey'] });
    }), { numRuns: 200 });
  });

  it('refuses every payload over a cap, before the schema runs', async () => {
    const lax = counted(z.any(), async);
    const overCap = fc.oneof(
      // Deeper than 8 levels.
      fc.nat({ max: 20 }).map((extraDepth) => {
        let deep: unknown = 'leaf';
        for (let i = 0; i < 8 + extraDepth; i++) deep = [deep];
        return { tag: deep };
      }),
      // An array over 256 elements, somewhere inside.
      fc.integer({ min: 257, max: 600 }).map((n) => ({ tags: [{ list: Array.from({ length: n }, () => 1) }] })),
      // A string over 8,192 characters, as a value or as a key.
      fc.integer({ min: 8193, max: 20_000 }).chain((n) => fc.constantFrom({ text: 'x'.repeat(n) }, { tags: [{ ['k'.repeat(n)]: 1 }] })),
      // An object over 64 properties.
      fc.integer({ min: 65, max: 200 }).map((n) => ({ tag: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i])) })),
    );
    await fc.assert(fc.asyncProperty(overCap, async (p) => {
      const result = await outcome(p, lax.schema, () => true);
      count(result);
      expect(result.kind).toBe('refused');
      expect(result.kind === 'refused' && result.constraints.every((c) => CAP_RULES.includes(c))).toBe(true);
    }), { numRuns: 300 });
    expect(lax.calls()).toBe(0);
  });
});
