import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validate, type ValidationError } from 'class-validator';
import fc from 'fast-check';
import type { FieldError } from '../../lib/exceptions/ws-security.exception.js';
import { WsSecurityException, WsValidationPipe } from '../../lib/index.js';
import { compileDtoFastPath } from '../../lib/pipes/dto-fast-path.js';
import { inspectPayload, type PayloadLimits } from '../../lib/pipes/payload.inspector.js';
import {
  AsyncDto,
  BaseDto,
  ChildDto,
  ConditionalDto,
  CustomDto,
  DefaultsDto,
  DefinedDto,
  EachDto,
  ExcludeDto,
  ExposeDto,
  ForeignInstanceDto,
  FunctionDefaultDto,
  GetterDto,
  GroupsDto,
  IdentityDto,
  Level,
  NestedDto,
  NoRulesDto,
  NumberRulesDto,
  PromiseDto,
  SLUG,
  StringRulesDto,
  TransformDto,
  TypeOnlyDto,
  UndeclaredAsyncDto,
  UndecoratedDefaultDto,
  ValidateNestedOnlyDto,
} from '../fixtures/fast-path.dtos.js';

/**
 * The fast path of WsValidationPipe against the full class-transformer + class-validator path it
 * stands in for: whatever flat payload it accepts, the full path accepts too, with an equal
 * instance (same prototype, same own keys in the same order, same values). It may decline
 * anything; it must still accept most of what the full path accepts, or it is not a fast path.
 * Runs per case: PROPERTY_RUNS (default 300); PROPERTY_SEED replays a failure.
 */
const RUNS = Number.parseInt(process.env.PROPERTY_RUNS ?? '300', 10);
const SEED = process.env.PROPERTY_SEED !== undefined ? Number.parseInt(process.env.PROPERTY_SEED, 10) : undefined;
const params = { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) };

type Dto = new () => object;
type Groups = readonly string[] | undefined;

// ---------------------------------------------------------------------------------------------
// The full path, as the pipe runs it
// ---------------------------------------------------------------------------------------------

async function fullPath(type: Dto, payload: object, groups: Groups): Promise<{ instance: object; errors: ValidationError[] }> {
  const instance = plainToInstance(type, payload);
  const errors = await validate(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    ...(groups !== undefined ? { groups: [...groups] } : {}),
  });
  return { instance, errors };
}

/** Same prototype, same own keys in the same order, same values (`Object.is`; nested ones deeply equal). */
function expectSameInstance(actual: object, expected: object): void {
  expect(Object.getPrototypeOf(actual)).toBe(Object.getPrototypeOf(expected));
  expect(Object.keys(actual)).toEqual(Object.keys(expected));
  for (const key of Object.keys(expected)) {
    const a: unknown = Reflect.get(actual, key);
    const e: unknown = Reflect.get(expected, key);
    // Nested values only come from the full path (the pipe's, and this test's own run of it).
    if (typeof e === 'object' && e !== null) expect(a).toStrictEqual(e);
    else if (!Object.is(a, e)) throw new Error(`property ${key}: ${String(a)} !== ${String(e)}`);
  }
}

/** The pipe's own wording of class-validator's errors (its private `fieldsOf`), for comparison. */
function fieldsOf(pipe: WsValidationPipe, errors: readonly ValidationError[]): FieldError[] {
  const method: unknown = Reflect.get(pipe, 'fieldsOf');
  if (typeof method !== 'function') throw new Error('WsValidationPipe has no fieldsOf: update this test');
  return (method as (errors: readonly ValidationError[], prefix: string) => FieldError[]).call(pipe, errors, '');
}

function refusalFields(error: unknown): readonly FieldError[] {
  if (!(error instanceof WsSecurityException)) throw new Error(`not a WsSecurityException: ${String(error)}`);
  const body = error.getBody();
  expect(body.error.code).toBe('VALIDATION_FAILED');
  return body.error.fields ?? [];
}

const body = (metatype: Dto): ArgumentMetadata => ({ type: 'body', metatype, data: undefined });

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const UUID = '550e8400-e29b-41d4-a716-446655440000';

const edgeString = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.integer({ min: 100, max: 1000 }).map((n) => 'a'.repeat(n)),
  fc.stringMatching(SLUG),
  fc.stringMatching(SLUG).map((s) => `${s}X`),
  fc.uuid(),
  fc.emailAddress(),
  fc.constantFrom('admin', 'root', 'red', 'green', 'low', 'high', 'First', 'Second', '1', '0', 'a', 'ab', 'abcd', 'abcde', 'coded', 'plain', ' ', '\u0000', 'é', '😀', UUID, 'a@b.co', 'not-an-email', 'true'),
);
const anyNumber = fc.oneof(
  fc.integer(),
  fc.integer({ min: -10, max: 110 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, 2, 0.5, 1.5, -1, -5, -6, 100, 101, 1e6, 1e21, -1e21, Number.MAX_SAFE_INTEGER + 2, Number.MAX_VALUE, Number.MIN_VALUE),
);
const safeKey = fc.string({ maxLength: 4 }).filter((k) => !FORBIDDEN.has(k));
const nested = fc.oneof(
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxLength: 3 }),
  fc.dictionary(safeKey, fc.integer(), { maxKeys: 2 }),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: edgeString, weight: 4 },
  { arbitrary: anyNumber, weight: 3 },
  { arbitrary: fc.boolean(), weight: 1 },
  { arbitrary: fc.constant(null), weight: 1 },
  { arbitrary: nested, weight: 1 },
);
/**
 * Names the class does not declare: inherited Object.prototype methods, other classes' names
 * (`plain` outside group `a`, `archived` on BaseDto), anything.
 */
const extraKey = fc.oneof(
  fc.constantFrom('toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', 'x', 'extra', 'plain', 'archived'),
  fc.string({ minLength: 1, maxLength: 8 }),
).filter((k) => !FORBIDDEN.has(k));

/** Mostly a value the rule wants, sometimes anything. */
const mostly = (good: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: good, weight: 8 }, { arbitrary: anyValue, weight: 1 });
/** The first arbitrary six times in seven. */
const usually = (good: fc.Arbitrary<unknown>, other: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: other, weight: 1 });

/**
 * Flat payloads: each of the class's names present 9 times in 10 (those in `halfPresent` one
 * time in two) with a mostly valid value, one payload in five with extra names, in a random order.
 */
function payloads(values: Readonly<Record<string, fc.Arbitrary<unknown>>>, halfPresent: readonly string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const present = Object.entries(values).map(([name, good]) =>
    fc.oneof({ arbitrary: mostly(good).map((value): [string, unknown] => [name, value]), weight: halfPresent.includes(name) ? 1 : 9 }, { arbitrary: fc.constant(null), weight: 1 }));
  const extras = fc.oneof({ arbitrary: fc.constant([]), weight: 4 }, { arbitrary: fc.array(fc.tuple(extraKey, anyValue), { minLength: 1, maxLength: 2 }), weight: 1 });
  return fc.tuple(fc.tuple(...present), extras)
    .chain(([named, more]) => {
      const entries = [...named.filter((e): e is [string, unknown] => e !== null), ...more];
      return fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length });
    })
    .map((entries) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    });
}

/**
 * For the fast path alone (the pipe refuses these keys before): one payload in two gets a
 * `constructor` key in each nested object, a key class-transformer drops when it copies one.
 */
function withNestedConstructorKeys(payloads: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const define = (o: object, key: string, value: unknown) => Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return fc.tuple(payloads, fc.boolean()).map(([payload, add]) => {
    if (!add) return payload;
    // New objects: generated values are shared with fast-check's shrinker and must not change.
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(payload)) {
      define(copy, key, value !== null && typeof value === 'object' && !Array.isArray(value) ? define({ ...value }, 'constructor', 0) : value);
    }
    return copy;
  });
}

interface Case {
  readonly label: string;
  readonly type: Dto;
  readonly groups: Groups;
  readonly values: Readonly<Record<string, fc.Arbitrary<unknown>>>;
  /** Names present in one payload in two only. */
  readonly halfPresent?: readonly string[];
  /** The least share of the full path's acceptances the fast path must take too (null: the full path accepts nothing). */
  readonly minShare: number | null;
}

const str = (min: number, max: number) => fc.string({ minLength: min, maxLength: max });
const CASES: readonly Case[] = [
  {
    label: 'StringRulesDto', type: StringRulesDto, groups: undefined, minShare: 0.75,
    values: {
      name: str(2, 12), slug: fc.stringMatching(SLUG), role: usually(fc.oneof(fc.constantFrom('user', 1), fc.string()), fc.constantFrom('admin', 'root', 0)),
      color: usually(fc.constantFrom('red', 'green', 1), fc.constantFrom('blue', '1')),
    },
  },
  {
    label: 'NumberRulesDto', type: NumberRulesDto, groups: undefined, minShare: 0.75,
    values: {
      count: fc.integer({ min: -6, max: 101 }), flag: fc.boolean(), level: usually(fc.constantFrom(Level.Low, Level.High), fc.constantFrom('LOW', 'Low')),
      rank: usually(fc.constantFrom(1, 2, 'First', null), fc.constantFrom(3, '1', 0)),
      ratio: usually(fc.oneof(fc.double({ min: 0.5, max: 1e6, noNaN: true }), fc.constant(null)), fc.double({ min: -1, max: 2e6, noNaN: true })),
    },
  },
  {
    label: 'IdentityDto', type: IdentityDto, groups: undefined, minShare: 0.6,
    values: { id: fc.oneof(fc.uuid(), fc.constant(UUID)), email: fc.emailAddress(), note: fc.oneof(str(0, 5), fc.integer(), fc.constant(null)) },
  },
  {
    label: 'ConditionalDto', type: ConditionalDto, groups: undefined, minShare: 0.75,
    values: { kind: fc.constantFrom('plain', 'coded'), code: fc.oneof(fc.integer({ min: -2, max: 9 }), fc.constant(null), fc.string({ maxLength: 2 })), nick: fc.oneof(str(0, 5), fc.constant(null)), tag: fc.oneof(str(0, 5), fc.constant(null)) },
  },
  {
    label: 'DefinedDto', type: DefinedDto, groups: undefined, minShare: 0.5,
    values: { must: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)), anything: anyValue, label: fc.oneof(fc.string(), fc.constant(null)) },
  },
  {
    label: 'CustomDto', type: CustomDto, groups: undefined, minShare: 0.75,
    values: {
      even: usually(fc.integer({ min: -5, max: 5 }).map((n) => n * 2), fc.integer()), low: fc.integer({ min: 0, max: 10 }),
      high: usually(fc.integer({ min: 10, max: 20 }), fc.integer({ min: 0, max: 10 })), word: usually(fc.string().map((s) => `a${s}`), fc.string()),
    },
  },
  {
    // A promise from `validate`: only the full path can answer, so the fast path takes payloads without `code` only.
    label: 'UndeclaredAsyncDto', type: UndeclaredAsyncDto, groups: undefined, minShare: 0.3,
    values: { name: fc.string(), code: fc.oneof(str(0, 6), fc.constant(null)) }, halfPresent: ['code'],
  },
  {
    label: 'DefaultsDto', type: DefaultsDto, groups: undefined, minShare: 0.75,
    values: { x: fc.oneof(str(0, 4), fc.constant(null)), y: fc.integer() },
  },
  {
    // `cb` in the payload: the full path keeps the default function, the fast path must decline.
    label: 'FunctionDefaultDto', type: FunctionDefaultDto, groups: undefined, minShare: 0.3,
    values: { cb: fc.oneof(fc.string(), fc.integer()), name: fc.string() }, halfPresent: ['cb'],
  },
  {
    // The full path checks (and accepts) a ForeignDto without `name`; the fast path declines them all.
    label: 'ForeignInstanceDto', type: ForeignInstanceDto, groups: undefined, minShare: 0,
    values: { name: fc.string(), z: fc.string() }, halfPresent: ['name'],
  },
  {
    label: 'UndecoratedDefaultDto', type: UndecoratedDefaultDto, groups: undefined, minShare: null,
    values: { a: fc.string(), x: fc.string() },
  },
  {
    label: 'BaseDto', type: BaseDto, groups: undefined, minShare: 0.75,
    values: { title: str(0, 11), size: fc.integer({ min: -1, max: 50 }), tagline: fc.oneof(str(0, 5), fc.constant(null)) },
  },
  {
    label: 'ChildDto', type: ChildDto, groups: undefined, minShare: 0.75,
    values: {
      title: usually(str(0, 3), fc.oneof(str(4, 5), fc.integer())), size: fc.integer({ min: -1, max: 50 }),
      tagline: usually(fc.oneof(str(2, 4), fc.constant(null)), fc.oneof(str(0, 5), fc.integer())), archived: fc.boolean(),
    },
  },
  {
    label: 'GroupsDto (no groups)', type: GroupsDto, groups: undefined, minShare: 0.75,
    values: { ga: str(0, 6), plain: fc.integer(), both: fc.boolean(), gb: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
  },
  {
    // `plain` has no rule in group `a`: it comes as an extra name (and is refused).
    label: "GroupsDto (groups ['a'])", type: GroupsDto, groups: ['a'], minShare: 0.75,
    values: { ga: str(0, 6), both: fc.boolean(), gb: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
  },
];

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/** WsValidationPipe's default caps. */
const LIMITS: PayloadLimits = { maxDepth: 8, maxArrayLength: 256, maxStringLength: 8192, maxProperties: 64 };
/**
 * Caps the generated payloads often break: no nesting, two keys, and strings no longer than the
 * class's longest property name (shorter would leave the class without a fast path).
 */
function tightLimits(type: Dto): PayloadLimits {
  const names = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false).map((m) => m.propertyName.length);
  return { maxDepth: 1, maxArrayLength: 0, maxStringLength: Math.max(1, ...names), maxProperties: 2 };
}
const plainOnly = (value: object) => Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;

/** Only GroupsDto has rules in group `a` (or `always`); every other class has none there. */
const GROUP_A_COMPILES: ReadonlySet<Dto> = new Set([GroupsDto]);

describe('compileDtoFastPath: which classes get a fast path', () => {
  it.each([
    ['StringRulesDto', StringRulesDto], ['NumberRulesDto', NumberRulesDto], ['IdentityDto', IdentityDto], ['ConditionalDto', ConditionalDto],
    ['DefinedDto', DefinedDto], ['CustomDto', CustomDto], ['UndeclaredAsyncDto', UndeclaredAsyncDto], ['DefaultsDto', DefaultsDto], ['FunctionDefaultDto', FunctionDefaultDto], ['ForeignInstanceDto', ForeignInstanceDto],
    ['UndecoratedDefaultDto', UndecoratedDefaultDto],
    ['BaseDto', BaseDto], ['ChildDto', ChildDto], ['GroupsDto', GroupsDto],
  ] as const)('compiles %s', (_label, type: Dto) => {
    expect(compileDtoFastPath(type, undefined, LIMITS)).toEqual(expect.any(Function));
    expect(compileDtoFastPath(type, ['a'], LIMITS)).toEqual(GROUP_A_COMPILES.has(type) ? expect.any(Function) : null);
  });

  it.each([
    ['NestedDto (@ValidateNested + @Type)', NestedDto], ['ValidateNestedOnlyDto (@ValidateNested)', ValidateNestedOnlyDto], ['TypeOnlyDto (@Type)', TypeOnlyDto],
    ['EachDto (each: true)', EachDto], ['AsyncDto (async constraint)', AsyncDto], ['PromiseDto (@ValidatePromise)', PromiseDto],
    ['TransformDto (@Transform)', TransformDto], ['ExposeDto (@Expose)', ExposeDto], ['ExcludeDto (@Exclude)', ExcludeDto],
    ['GetterDto (getter on the prototype)', GetterDto], ['NoRulesDto (no rules)', NoRulesDto],
  ] as const)('does not compile %s', (_label, type: Dto) => {
    expect(compileDtoFastPath(type, undefined, LIMITS)).toBeNull();
    expect(compileDtoFastPath(type, ['a'], LIMITS)).toBeNull();
  });
});

describe('compileDtoFastPath property: never accepts what the full path refuses, and builds the same instance', () => {
  it.each(CASES.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
    const fast = compileDtoFastPath(c.type, c.groups, LIMITS);
    if (fast === null) throw new Error(`${c.label} did not compile`);
    const seen = { full: 0, fast: 0 };
    await fc.assert(fc.asyncProperty(withNestedConstructorKeys(payloads(c.values, c.halfPresent)), async (payload) => {
      const before = Object.entries(payload);
      const instance = fast(payload);
      // The payload is read, never written.
      expect(Object.entries(payload)).toEqual(before);
      const full = await fullPath(c.type, payload, c.groups);
      if (full.errors.length === 0) seen.full += 1;
      if (instance === undefined) return;
      seen.fast += 1;
      expect(full.errors).toEqual([]);
      expectSameInstance(instance, full.instance);
      // plainToInstance copies nested values: the instance never shares an object with the payload.
      for (const [key, value] of Object.entries(instance)) {
        if (value !== null && typeof value === 'object') expect(value).not.toBe(payload[key]);
      }
    }), params);
    if (c.minShare === null) {
      expect(seen).toEqual({ full: 0, fast: 0 });
    } else {
      // The generators reach valid payloads often, and the fast path takes most of them.
      expect(seen.full).toBeGreaterThan(RUNS * 0.1);
      expect(seen.fast).toBeGreaterThanOrEqual(Math.ceil(seen.full * c.minShare));
    }
  });
});

describe('compileDtoFastPath property: the caps and forbidden keys in the same walk', () => {
  it.each(CASES.map((c) => [c.label, c] as const))('%s: never accepts what the inspection refuses, with caps it often breaks', (_label, c) => {
    const limits = tightLimits(c.type);
    const fast = compileDtoFastPath(c.type, c.groups, limits);
    if (fast === null) throw new Error(`${c.label} did not compile`);
    const seen = { refused: 0, fast: 0 };
    fc.assert(fc.property(withNestedConstructorKeys(payloads(c.values, c.halfPresent)), (payload) => {
      const refused = inspectPayload(payload, limits, plainOnly) !== null;
      if (refused) seen.refused += 1;
      const instance = fast(payload);
      if (instance === undefined) return;
      seen.fast += 1;
      expect(refused).toBe(false);
    }), params);
    // The caps were broken often enough to mean something.
    expect(seen.refused).toBeGreaterThan(RUNS * 0.1);
  });

  it('does not compile a class declaring a property the inspection refuses by name', () => {
    expect(compileDtoFastPath(StringRulesDto, undefined, { ...LIMITS, maxStringLength: 3 })).toBeNull();
  });
});

describe('WsValidationPipe with the fast path', () => {
  it('returns the instance of a valid flat payload synchronously', () => {
    const pipe = new WsValidationPipe();
    const result = pipe.transform({ color: 'red', name: 'ab', slug: 'ok-1', role: 'user' }, body(StringRulesDto));
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toBeInstanceOf(StringRulesDto);
    expect(Object.entries(result as object)).toEqual([['color', 'red'], ['name', 'ab'], ['slug', 'ok-1'], ['role', 'user']]);

    const withDefault = pipe.transform({ y: 3 }, body(DefaultsDto));
    expect(withDefault).toBeInstanceOf(DefaultsDto);
    expect(Object.entries(withDefault as object)).toEqual([['x', 'd'], ['y', 3]]);
  });

  it('with groups, returns synchronously what group `a` accepts', () => {
    const pipe = new WsValidationPipe({ groups: ['a'] });
    const result = pipe.transform({ ga: 'abc', both: true }, body(GroupsDto));
    expect(result).toBeInstanceOf(GroupsDto);
  });

  it('takes the full path (a promise) for a class without a fast path', async () => {
    const pipe = new WsValidationPipe();
    const result = pipe.transform({ inner: { v: 'x' } }, body(NestedDto));
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBeInstanceOf(NestedDto);
  });

  it('refuses an invalid flat payload with the full path\'s wording', async () => {
    const pipe = new WsValidationPipe();
    const payload = { name: 1, slug: 'Not A Slug', color: 'blue', extra: true };
    const expected = fieldsOf(pipe, (await fullPath(StringRulesDto, payload, undefined)).errors);
    expect(expected).toEqual([
      { path: '*', constraints: ['whitelistValidation'] },
      { path: 'name', constraints: ['isLength', 'isString'] },
      { path: 'slug', constraints: ['matches'] },
      { path: 'color', constraints: ['isIn'] },
    ]);
    let fields: readonly FieldError[] | undefined;
    try {
      await pipe.transform(payload, body(StringRulesDto));
    } catch (error) {
      fields = refusalFields(error);
    }
    expect(fields).toEqual(expected);
  });

  describe('property: the pipe answers what the full path answers', () => {
    it.each(CASES.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
      const pipe = new WsValidationPipe(c.groups !== undefined ? { groups: [...c.groups] } : {});
      const seen = { full: 0, sync: 0 };
      // Off the wire: through JSON, as Socket.IO decodes it.
      const wire = payloads(c.values, c.halfPresent).map((p) => JSON.parse(JSON.stringify(p)) as Record<string, unknown>);
      await fc.assert(fc.asyncProperty(wire, async (payload) => {
        const full = await fullPath(c.type, payload, c.groups);
        let answer: unknown;
        let sync = false;
        try {
          answer = pipe.transform(payload, body(c.type));
          sync = !(answer instanceof Promise);
          answer = await answer;
        } catch (error) {
          expect(refusalFields(error)).toEqual(fieldsOf(pipe, full.errors));
          return;
        }
        expect(full.errors).toEqual([]);
        seen.full += 1;
        if (sync) seen.sync += 1;
        expectSameInstance(answer as object, full.instance);
      }), params);
      if (c.minShare === null) {
        expect(seen).toEqual({ full: 0, sync: 0 });
      } else {
        expect(seen.full).toBeGreaterThan(RUNS * 0.1);
        expect(seen.sync).toBeGreaterThanOrEqual(Math.ceil(seen.full * c.minShare));
      }
    });
  });
});
