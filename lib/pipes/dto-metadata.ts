import { getMetadataStorage } from 'class-validator';

/** What the pipe needs to know about a DTO class, computed once per class. */
export interface DtoMetadata {
  /** The class carries class-validator rules (otherwise every payload is refused as unknown). */
  readonly validated: boolean;
  /**
   * Property names the DTO declares, with those of nested DTO property types: the only names an
   * error path shows; any other segment came from the client and is shown as `*`.
   */
  readonly declared: ReadonlySet<string>;
}

type Constructor = abstract new (...args: never[]) => unknown;

const cache = new WeakMap<Constructor, DtoMetadata>();

/** Primitive wrappers and containers: a parameter of these types is not a DTO. */
const NOT_DTOS: ReadonlySet<unknown> = new Set([String, Number, Boolean, Symbol, BigInt, Object, Array, Function, Promise, Date, Map, Set]);

export function isDtoType(type: unknown): type is Constructor {
  return typeof type === 'function' && !NOT_DTOS.has(type);
}

/** Cached per class; class-validator metadata is complete once the class is defined. */
export function dtoMetadataOf(type: Constructor): DtoMetadata {
  let found = cache.get(type);
  if (found === undefined) {
    const declared = new Set<string>();
    collectNames(type, declared, new Set());
    found = { validated: rulesOf(type).length > 0, declared };
    cache.set(type, found);
  }
  return found;
}

function rulesOf(type: Constructor) {
  // always=true, no groups: every rule of the class and its parents, whatever its groups.
  return getMetadataStorage().getTargetValidationMetadatas(type as new () => unknown, '', true, false);
}

function collectNames(type: Constructor, into: Set<string>, seen: Set<Constructor>): void {
  if (seen.has(type)) return;
  seen.add(type);
  for (const rule of rulesOf(type)) {
    into.add(rule.propertyName);
    const nested: unknown = Reflect.getMetadata('design:type', type.prototype as object, rule.propertyName);
    if (isDtoType(nested)) collectNames(nested, into, seen);
  }
}
