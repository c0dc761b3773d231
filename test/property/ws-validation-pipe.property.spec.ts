import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import fc from 'fast-check';
import { WsSecurityException, WsValidationPipe } from '../../lib/index.js';
import { NestedDto, SendDto, TagDto } from '../support/dtos.js';

/**
 * Thousands of generated payloads thrown at the pipe directly: each call either returns a valid
 * DTO instance (checked here by hand, not by class-validator) or throws a `VALIDATION_FAILED`
 * `WsSecurityException` whose body carries no submitted value. Nothing else, ever.
 */
const MARK = 'ECHO-MARK';
const pipe = new WsValidationPipe();
const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });

const CHANNEL = /^[A-Za-z0-9_-]{1,64}$/;

function isValidSend(v: unknown): boolean {
  if (!(v instanceof SendDto) || Object.getPrototypeOf(v) !== SendDto.prototype) return false;
  const keys = Object.keys(v).sort();
  return keys.join() === 'channelId,text' && CHANNEL.test(v.channelId) && !['__proto__', 'constructor', 'prototype'].includes(v.channelId) && typeof v.text === 'string' && v.text.length >= 1 && v.text.length <= 2000;
}

function isValidTag(v: unknown): boolean {
  if (!(v instanceof TagDto) || Object.getPrototypeOf(v) !== TagDto.prototype) return false;
  const keys = Object.keys(v).sort();
  return keys.join() === 'name,weight' && typeof v.name === 'string' && v.name.length >= 1 && v.name.length <= 32
    && Number.isInteger(v.weight) && v.weight >= 0 && v.weight <= 100;
}

function isValidNested(v: unknown): boolean {
  if (!(v instanceof NestedDto) || Object.getPrototypeOf(v) !== NestedDto.prototype) return false;
  const keys = Object.keys(v);
  if (keys.some((k) => !['tag', 'tags', 'pinned'].includes(k))) return false;
  if (v.pinned !== undefined && v.pinned !== null && typeof v.pinned !== 'boolean') return false;
  return isValidTag(v.tag) && Array.isArray(v.tags) && v.tags.length <= 10 && v.tags.every(isValidTag);
}

async function outcome(payload: unknown, metatype: ArgumentMetadata['metatype'], isValid: (v: unknown) => boolean): Promise<'valid' | 'refused'> {
  let result: unknown;
  try {
    result = await pipe.transform(payload, body(metatype));
  } catch (error) {
    if (!(error instanceof WsSecurityException)) throw new Error(`threw something else: ${String(error)}`);
    const refusal = error.getBody();
    if (refusal.error.code !== 'VALIDATION_FAILED') throw new Error(`wrong code ${refusal.error.code}`);
    const fields = refusal.error.fields ?? [];
    if (fields.length === 0 || fields.some((f) => typeof f.path !== 'string' || f.constraints.length === 0 || f.constraints.some((c) => typeof c !== 'string'))) {
      throw new Error(`malformed fields ${JSON.stringify(fields)}`);
    }
    if (JSON.stringify(refusal).includes(MARK)) throw new Error(`echoed input: ${JSON.stringify(refusal)}`);
    return 'refused';
  }
  if (!isValid(result)) throw new Error(`returned an invalid value: ${JSON.stringify(result)}`);
  return 'valid';
}

// Keys: the DTOs' own names, the dangerous ones, a marked one, and anything.
const key = fc.oneof(
  fc.constantFrom('channelId', 'text', 'tag', 'tags', 'name', 'weight', 'pinned'),
  fc.constantFrom('__proto__', 'constructor', 'prototype'),
  fc.constant(`${MARK}-key`),
  fc.string({ maxLength: 12 }),
);
const markedString = fc.oneof(fc.string({ maxLength: 40 }), fc.constant(MARK), fc.string({ maxLength: 8 }).map((s) => `${MARK}${s}`));
const leaf = fc.oneof(markedString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));

/** JSON-shaped values, as a Socket.IO payload decodes: keys like `__proto__` become own keys. */
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

/** The same values through a real JSON round trip, the way they arrive off the wire. */
const wire = jsonish.map((v) => {
  const text = JSON.stringify(v);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
});

/** Mostly the valid value, sometimes something else: a good share is accepted, so the oracle is exercised. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: markedString, weight: 1 }, { arbitrary: leaf, weight: 1 });
const tag = fc.record({ name: mostly(fc.string({ minLength: 1, maxLength: 32 })), weight: mostly(fc.integer({ min: 0, max: 100 })) });
/** An extra property on one payload in four. */
const extra = fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.tuple(key, jsonish), weight: 1 });
const nearSend = fc.tuple(
  fc.record({ channelId: mostly(fc.stringMatching(CHANNEL)), text: mostly(fc.string({ minLength: 1, maxLength: 50 })) }, { requiredKeys: ['channelId', 'text'] }),
  extra,
).map(([record, more]) => withExtra(record, more));
const nearNested = fc.tuple(
  fc.record({ tag, tags: fc.array(tag, { maxLength: 3 }), pinned: mostly(fc.boolean()) }, { requiredKeys: ['tag', 'tags'] }),
  extra,
).map(([record, more]) => withExtra(record, more));

function withExtra(record: object, extra: [string, unknown] | undefined): unknown {
  const o: Record<string, unknown> = { ...record };
  if (extra !== undefined) Object.defineProperty(o, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
  return JSON.parse(JSON.stringify(o)) as unknown;
}

describe('WsValidationPipe property: a valid DTO instance or VALIDATION_FAILED, nothing else', () => {
  const seen = { valid: 0, refused: 0 };
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
  afterAll(() => {
    // The generators must reach both outcomes, or the property proves little.
    expect(seen.valid).toBeGreaterThan(1000);
    expect(seen.refused).toBeGreaterThan(1000);
  });

  const count = (o: 'valid' | 'refused') => { seen[o] += 1; };

  it('holds for arbitrary JSON-shaped payloads (SendDto)', async () => {
    await fc.assert(fc.asyncProperty(wire, async (p) => count(await outcome(p, SendDto, isValidSend))), { numRuns: 1500 });
  });

  it('holds for arbitrary JSON-shaped payloads (NestedDto)', async () => {
    await fc.assert(fc.asyncProperty(wire, async (p) => count(await outcome(p, NestedDto, isValidNested))), { numRuns: 1500 });
  });

  it('holds for near-valid payloads with extra and dangerous keys', async () => {
    await fc.assert(fc.asyncProperty(nearSend, async (p) => count(await outcome(p, SendDto, isValidSend))), { numRuns: 1500 });
    await fc.assert(fc.asyncProperty(nearNested, async (p) => count(await outcome(p, NestedDto, isValidNested))), { numRuns: 1500 });
  });

  it('holds for any JavaScript value, not only decoded JSON', async () => {
    const anything = fc.anything({ key, maxDepth: 4, withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true, withDate: true, withBigInt: true, withSparseArray: true, withBoxedValues: true });
    await fc.assert(fc.asyncProperty(anything, async (p) => count(await outcome(p, SendDto, isValidSend))), { numRuns: 1000 });
  });

  it('refuses every payload that carries a dangerous key, at any depth', async () => {
    const dangerous = fc.tuple(nearNested, fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.nat({ max: 2 })).map(([p, k, where]) => {
      const text = JSON.stringify(p);
      const inject = `"${k}":{"polluted":true}`;
      // Into the root, into `tag`, or into the first element of `tags` (made non-empty).
      if (where === 0) return JSON.parse(`{${inject},${text.slice(1)}`) as unknown;
      const o = JSON.parse(text) as { tag: unknown; tags: unknown };
      if (where === 1) o.tag = JSON.parse(`{${inject}}`);
      else o.tags = [JSON.parse(`{${inject}}`), ...(Array.isArray(o.tags) ? o.tags : [])];
      return o;
    });
    await fc.assert(fc.asyncProperty(dangerous, async (p) => {
      const result = await outcome(p, NestedDto, isValidNested);
      count(result);
      expect(result).toBe('refused');
    }), { numRuns: 1000 });
  });
});
