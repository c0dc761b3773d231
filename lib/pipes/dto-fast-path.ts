import { createRequire } from 'node:module';
import { getMetadataStorage, ValidationTypes, type MetadataStorage, type ValidationArguments } from 'class-validator';
import { nativeCheckOf, type NativeCheck } from './native-constraints.js';
import { FORBIDDEN_KEYS, type PayloadLimits } from './payload.inspector.js';

type Constructor = abstract new (...args: never[]) => unknown;
type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];

/**
 * Builds a DTO instance from a flat payload and checks it, or answers `undefined`: "take the
 * structural inspection and the full class-transformer + class-validator path". It never refuses
 * and never reports: only a payload it has proved within the caps, free of forbidden keys and
 * valid, exactly as the inspection and the full path would have, gets an instance.
 */
export type DtoFastPath = (payload: Readonly<Record<string, unknown>>) => object | undefined;

/** One compiled check: a class-validator constraint, resolved once. */
interface Check {
  readonly metadata: ValidationMetadata;
  readonly validate: (value: unknown, args: ValidationArguments) => unknown;
  /** The same rule as a plain check, for class-validator's own `@IsString`, `@Length`, `@Matches`. */
  readonly native: NativeCheck | null;
}

/** Everything class-validator would run for one property. */
interface PropertyPlan {
  readonly name: string;
  readonly conditions: readonly ((object: object, value: unknown) => unknown)[];
  readonly checks: readonly Check[];
}

/** What class-transformer's metadata storage answers; read structurally (the package exports no type for it). */
interface TransformerStorage {
  getStrategy(target: Constructor): string;
  getExposedMetadatas(target: Constructor): readonly unknown[];
  getExcludedMetadatas(target: Constructor): readonly unknown[];
  findTypeMetadata(target: Constructor, propertyName: string): unknown;
  findTransformMetadatas(target: Constructor, propertyName: string, transformationType: number): readonly unknown[];
}

/** class-transformer's `TransformationType.PLAIN_TO_CLASS`. */
const PLAIN_TO_CLASS = 0;

let transformerStorage: TransformerStorage | null | undefined;

/**
 * The storage `plainToInstance` reads: Node's `import` of class-transformer loads its CommonJS
 * build (it has no `exports` map), so the same module from the same place is this one. Null when
 * it cannot be found (another layout): then no DTO gets a fast path.
 */
function transformerMetadata(): TransformerStorage | null {
  if (transformerStorage === undefined) {
    try {
      const require = createRequire(import.meta.url);
      const main = require.resolve('class-transformer');
      const loaded = createRequire(main)('./storage.js') as { defaultMetadataStorage?: TransformerStorage };
      const storage = loaded.defaultMetadataStorage;
      transformerStorage = storage !== undefined && typeof storage.getStrategy === 'function' && typeof storage.findTypeMetadata === 'function' ? storage : null;
    } catch {
      transformerStorage = null;
    }
  }
  return transformerStorage;
}

/**
 * Compiles the fast path of a DTO class for one set of validator options (`groups` as the pipe
 * passes them; `whitelist`, `forbidNonWhitelisted` and `forbidUnknownValues` on) and the pipe's
 * payload caps, or answers null when the class needs what only the full path does. The fast path
 * covers a flat payload (every value a string within `maxStringLength`, a number, a boolean or
 * null; at most `maxProperties` keys, each a property the class validates), checked in the same
 * walk that builds the instance (so the caps and forbidden keys cost no walk of their own), and classes
 * whose rules are all synchronous single-value constraints (built-in or `registerDecorator`),
 * `@IsOptional`/`@ValidateIf`, `@IsDefined` and `@Allow`, with no class-transformer decorator.
 * It runs the very constraint objects class-validator would, on the instance class-transformer
 * would have built (`new Type()`, then the payload's keys assigned in order), and checks the
 * whitelist on that instance's own keys, so a constructor's defaults are seen as they would be.
 * Nested DTOs, `each`, async constraints, promises and `@Type`/`@Transform`/`@Expose`/`@Exclude`
 * all take the full path. Constraint objects are resolved when the class is first validated (its
 * first message), through class-validator's container as it is then (`useContainer` is called at
 * start-up, before any message).
 */
export function compileDtoFastPath(type: Constructor, groups: readonly string[] | undefined, limits: PayloadLimits): DtoFastPath | null {
  const transformer = transformerMetadata();
  if (transformer === null) return null;
  if (transformer.getStrategy(type) !== 'none' || transformer.getExposedMetadatas(type).length > 0 || transformer.getExcludedMetadatas(type).length > 0) return null;
  const storage = getMetadataStorage();
  // The arguments class-validator's executor passes for the pipe's options (always and strictGroups off).
  const metadatas = storage.getTargetValidationMetadatas(type as unknown as new () => unknown, '', false, false, groups === undefined ? undefined : [...groups]);
  if (metadatas.length === 0) return null;
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const metadata of metadatas) {
    const list = byProperty.get(metadata.propertyName);
    if (list === undefined) byProperty.set(metadata.propertyName, [metadata]);
    else list.push(metadata);
  }
  const prototype = type.prototype as object;
  const plans: PropertyPlan[] = [];
  for (const [name, list] of byProperty) {
    if (transformer.findTypeMetadata(type, name) !== undefined || transformer.findTransformMetadatas(type, name, PLAIN_TO_CLASS).length > 0) return null;
    // class-transformer skips a key the prototype defines without a setter: the full path knows how.
    if (Object.getOwnPropertyDescriptor(prototype, name) !== undefined) return null;
    const conditions: ((object: object, value: unknown) => unknown)[] = [];
    const checks: Check[] = [];
    for (const metadata of list) {
      switch (metadata.type) {
        case ValidationTypes.WHITELIST:
          break;
        case ValidationTypes.CONDITIONAL_VALIDATION: {
          const condition: unknown = metadata.constraints?.[0];
          if (typeof condition !== 'function') return null;
          conditions.push(condition as (object: object, value: unknown) => unknown);
          break;
        }
        case ValidationTypes.CUSTOM_VALIDATION:
        case ValidationTypes.IS_DEFINED: {
          if (metadata.each === true) return null;
          const constraints = storage.getTargetValidatorConstraints(metadata.constraintCls);
          for (const constraint of constraints) {
            if (constraint.async) return null;
            const instance = constraint.instance as { validate?: unknown } | undefined;
            if (instance === undefined || typeof instance.validate !== 'function') return null;
            const method = instance.validate as Check['validate'];
            const validate: Check['validate'] = (value, args) => method.call(instance, value, args);
            checks.push({ metadata, validate, native: nativeCheckOf(metadata, validate, type.name) });
          }
          break;
        }
        default:
          // Nested and promise validation, or a type this code does not know.
          return null;
      }
    }
    plans.push({ name, conditions, checks });
  }
  const declared = new Set(byProperty.keys());
  // A declared name the inspection would refuse (a forbidden key, or longer than a string may be): the full path reports it.
  for (const name of declared) if (FORBIDDEN_KEYS.has(name) || name.length > limits.maxStringLength) return null;
  const { maxProperties, maxStringLength } = limits;
  const Type = type as unknown as new () => Record<string, unknown>;
  const targetName = type.name;

  return (payload) => {
    const keys = Object.keys(payload);
    if (keys.length > maxProperties) return undefined;
    for (const key of keys) {
      if (!declared.has(key)) return undefined;
      const value = payload[key];
      switch (typeof value) {
        case 'string':
          if (value.length > maxStringLength) return undefined;
          break;
        case 'number':
        case 'boolean':
          break;
        case 'object':
          if (value !== null) return undefined;
          break;
        default:
          // undefined (not from JSON), functions, symbols, bigints: the inspection decides.
          return undefined;
      }
    }
    const instance = new Type();
    // A constructor may return another object: class-validator then checks that object's class.
    if (Object.getPrototypeOf(instance) !== prototype || instance.constructor !== type) return undefined;
    for (const key of keys) {
      // class-transformer skips a key whose current value is a function: the full path knows how.
      if (typeof instance[key] === 'function') return undefined;
      instance[key] = payload[key];
    }
    // The whitelist, on what class-validator would see (a constructor may add properties).
    for (const key of Object.keys(instance)) if (!declared.has(key)) return undefined;
    for (const plan of plans) {
      const value = instance[plan.name];
      let applies = true;
      for (const condition of plan.conditions) if (!condition(instance, value)) applies = false;
      if (!applies) continue;
      for (const { metadata, validate, native } of plan.checks) {
        if (metadata.validateIf !== undefined && !metadata.validateIf(instance, value)) continue;
        if (native !== null) {
          if (!native(value, instance)) return undefined;
          continue;
        }
        const args: ValidationArguments = { targetName, property: metadata.propertyName, object: instance, value, constraints: metadata.constraints };
        const valid = validate(value, args);
        // A promise, or anything but true: the full path decides (and words the error).
        if (valid !== true) return undefined;
      }
    }
    return instance;
  };
}
