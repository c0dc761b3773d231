import 'reflect-metadata';
import { getMetadataStorage, IsString, Length, Matches, registerDecorator, validate, type ValidationArguments } from 'class-validator';
import fc from 'fast-check';
import { nativeCheckOf, type ConstraintValidate, type NativeCheck } from '../../lib/pipes/native-constraints.js';

/**
 * The fast path replaces class-validator's own `@IsString`, `@Length` and `@Matches` constraints
 * with plain checks: on any value, and on strings of any code units (surrogate pairs, lone
 * surrogates, variation selectors), each answers exactly what the constraint answers. A custom
 * rule that reuses a built-in name with other semantics keeps its constraint.
 * Runs per property: PROPERTY_RUNS (default 300) x 10; PROPERTY_SEED replays a failure.
 */
const RUNS = Number.parseInt(process.env.PROPERTY_RUNS ?? '300', 10) * 10;
const SEED = process.env.PROPERTY_SEED !== undefined ? Number.parseInt(process.env.PROPERTY_SEED, 10) : undefined;
const params = { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) };

class Rules {
  @IsString() a!: string;
  @Length(1, 4) b!: string;
  @Length(0) c!: string;
  @Length(2, 2) d!: string;
  @Matches(/^[A-Za-z0-9_-]+$/) e!: string;
  @Matches('^a.c$', 'i') f!: string;
  @Matches(/b/g) g!: string;
}

/** A decorator named like class-validator's `isLength` that means something else: never compiled. */
function OddLength(): PropertyDecorator {
  return (target, propertyName) => registerDecorator({
    name: 'isLength', target: target.constructor, propertyName: propertyName as string, constraints: [1, 4],
    validator: { validate: (value: unknown) => typeof value === 'string' && value.startsWith('x') },
  });
}

class Odd {
  @OddLength() h!: string;
}

interface Compiled {
  readonly property: string;
  readonly original: ConstraintValidate;
  readonly native: NativeCheck | null;
  readonly args: (value: unknown) => ValidationArguments;
}

function compiledOf(type: new () => object): Compiled[] {
  const storage = getMetadataStorage();
  return storage.getTargetValidationMetadatas(type, '', false, false).flatMap((metadata) => storage.getTargetValidatorConstraints(metadata.constraintCls).map((constraint) => {
    const instance = constraint.instance as { validate: ConstraintValidate };
    const original: ConstraintValidate = (value, args) => instance.validate(value, args);
    return {
      property: metadata.propertyName,
      original,
      native: nativeCheckOf(metadata, original, type.name),
      args: (value: unknown) => ({ targetName: type.name, property: metadata.propertyName, object: {}, value, constraints: metadata.constraints ?? [] }),
    };
  }));
}

/** Strings of any UTF-16 code units, biased toward the ones `isLength` counts specially. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: fc.constantFrom('a', 'B', '-', '_', '\uFE0F', '\uFE0E', '\uD83D', '\uDE00', '\uD800', '\uDFFF', '\n', '\u00e9'), maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const anyValue = fc.oneof(anyString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.object({ maxDepth: 1 }));

describe('native checks of class-validator constraints', () => {
  const rules = compiledOf(Rules);

  it('compiles @IsString, @Length and @Matches (not a global pattern)', () => {
    expect(Object.fromEntries(rules.map((r) => [r.property, r.native !== null]))).toEqual({ a: true, b: true, c: true, d: true, e: true, f: true, g: false });
  });

  it.each(['a', 'b', 'c', 'd', 'e', 'f'])('%s: answers what the constraint answers, on any value', (property) => {
    const rule = rules.find((r) => r.property === property)!;
    fc.assert(fc.property(anyValue, (value) => {
      expect(rule.native!(value, {})).toBe(rule.original(value, rule.args(value)) === true);
    }), params);
  });

  it('keeps the constraint of a custom rule that reuses a built-in name', () => {
    const [odd] = compiledOf(Odd);
    expect(odd!.native).toBeNull();
  });

  it('agrees with class-validator on whole objects', async () => {
    await fc.assert(fc.asyncProperty(anyString, anyString, anyString, async (a, b, e) => {
      const object = Object.assign(new Rules(), { a, b, c: a, d: b, e, f: e, g: 'b' });
      const failed = new Set((await validate(object)).map((error) => error.property));
      for (const rule of rules) if (rule.native !== null) expect(rule.native((object as unknown as Record<string, unknown>)[rule.property], object)).toBe(!failed.has(rule.property));
    }), { ...params, numRuns: Math.ceil(RUNS / 10) });
  });
});
