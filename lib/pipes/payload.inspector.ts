/** The structural caps a payload must fit before anything transforms or validates it. */
export interface PayloadLimits {
  readonly maxDepth: number;
  readonly maxArrayLength: number;
  readonly maxStringLength: number;
  readonly maxProperties: number;
}

/** The first structural violation found: where (from the payload root) and which rule. */
export interface PayloadViolation {
  /** Path segments from the root, innermost last. Property names here come from the client. */
  readonly path: (string | number)[];
  readonly constraint: PayloadConstraint;
}

export type PayloadConstraint = 'maxDepth' | 'maxArrayLength' | 'maxStringLength' | 'maxProperties' | 'forbiddenKey' | 'unsupportedType';

/**
 * Keys that reach an object's prototype when code assigns or merges them. `JSON.parse` creates
 * `__proto__` as an own property, so they are found by own-key inspection at any depth.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Walks `value` once, depth-first, and returns its first violation or `null`. Strings, numbers,
 * booleans, `null`, `undefined` and binary attachments are leaves; arrays and objects count a level
 * each (the root object is depth 1) and are refused past `maxDepth` before their content is read,
 * so recursion is bounded. `acceptsObject` decides which non-array objects may appear (plain ones).
 */
export function inspectPayload(value: unknown, limits: PayloadLimits, acceptsObject: (object: object) => boolean): PayloadViolation | null {
  return visit(value, 1, limits, acceptsObject);
}

function visit(value: unknown, depth: number, limits: PayloadLimits, acceptsObject: (object: object) => boolean): PayloadViolation | null {
  switch (typeof value) {
    case 'string':
      return value.length > limits.maxStringLength ? violation('maxStringLength') : null;
    case 'number':
    case 'boolean':
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      return violation('unsupportedType');
  }
  if (value === null || isBinary(value)) return null;
  if (depth > limits.maxDepth) return violation('maxDepth');
  if (Array.isArray(value)) {
    if (value.length > limits.maxArrayLength) return violation('maxArrayLength');
    for (let i = 0; i < value.length; i++) {
      const found = visit(value[i], depth + 1, limits, acceptsObject);
      if (found !== null) return within(i, found);
    }
    return null;
  }
  if (!acceptsObject(value)) return violation('unsupportedType');
  const keys = Object.keys(value);
  if (keys.length > limits.maxProperties) return violation('maxProperties');
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) return within(key, violation('forbiddenKey'));
    if (key.length > limits.maxStringLength) return violation('maxStringLength');
    const found = visit((value as Record<string, unknown>)[key], depth + 1, limits, acceptsObject);
    if (found !== null) return within(key, found);
  }
  return null;
}

function violation(constraint: PayloadConstraint): PayloadViolation {
  return { path: [], constraint };
}

/** Paths are built only on the way out of a violation, so a valid payload allocates none. */
function within(segment: string | number, found: PayloadViolation): PayloadViolation {
  found.path.unshift(segment);
  return found;
}

/** Socket.IO binary attachments arrive as Buffers (Node) or ArrayBuffers/views. */
export function isBinary(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}
