import type { ValidationArguments } from 'class-validator';

/** A class-validator constraint's `validate`, bound to its instance. */
export type ConstraintValidate = (value: unknown, args: ValidationArguments) => unknown;

/** A constraint compiled to a plain check of the value (no arguments object, no call chain). */
export type NativeCheck = (value: unknown, object: object) => boolean;

/** What a validation metadata says of one rule: its name and constraints, as class-validator stores them. */
interface RuleFacts {
  readonly name?: string;
  readonly constraints?: readonly unknown[];
  readonly propertyName: string;
}

/** Code units that make `validator`'s `isLength` count differently from `.length`: surrogates, variation selectors. */
const LENGTH_SENSITIVE = /[\uD800-\uDFFF\uFE0E\uFE0F]/;

/**
 * Values every compiled check is compared on, against the constraint it replaces, before it is
 * used: a custom decorator reusing a built-in rule's name with other semantics keeps its own
 * constraint. Lengths around the rule's bounds are added per rule.
 */
const PROBES: readonly unknown[] = [
  '', 'a', 'ab', 'abc', 'A-z_09', 'hello world', 'x'.repeat(65), '\u00e9t\u00e9', '\uD83D\uDE00', 'a\uFE0F', '\uFE0F', 'a\uD83D\uDE00b',
  '__proto__', 'constructor', '-', '_', ' ', '\n', 'a\nb', 0, 1, -1, 1.5, Number.NaN, true, false, null, undefined,
];

/**
 * For class-validator's own `@IsString()`, `@Length()` and `@Matches()`: a check of the value that
 * answers exactly what the constraint does, without its call chain and arguments object; `null`
 * for any other rule (it keeps its constraint). Strings `isLength` would count differently from
 * `.length` (surrogate pairs, variation selectors) still go to the constraint itself.
 */
export function nativeCheckOf(rule: RuleFacts, validate: ConstraintValidate, targetName: string): NativeCheck | null {
  const check = compile(rule, validate, targetName);
  if (check === null) return null;
  const [min, max] = rule.constraints ?? [];
  const bounds = rule.name === 'isLength' ? [min, max].filter((n): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 4096) : [];
  const probes = [...PROBES, ...bounds.flatMap((n) => [n - 1, n, n + 1].filter((k) => k >= 0).map((k) => 'y'.repeat(k)))];
  for (const value of probes) {
    const args: ValidationArguments = { targetName, property: rule.propertyName, object: {}, value, constraints: [...(rule.constraints ?? [])] };
    let expected: unknown;
    try {
      expected = validate(value, args);
    } catch {
      return null;
    }
    if ((expected === true) !== check(value, args.object)) return null;
  }
  return check;
}

function compile(rule: RuleFacts, validate: ConstraintValidate, targetName: string): NativeCheck | null {
  const constraints = rule.constraints ?? [];
  switch (rule.name) {
    case 'isString':
      return (value) => typeof value === 'string' || value instanceof String;
    case 'isLength': {
      const [min, max] = constraints;
      if (!(typeof min === 'number' || min === undefined) || !(typeof max === 'number' || max === undefined)) return null;
      const lowest = min || 0;
      return (value, object) => {
        if (typeof value !== 'string') return false;
        if (LENGTH_SENSITIVE.test(value)) return validate(value, { targetName, property: rule.propertyName, object, value, constraints: [...constraints] }) === true;
        return value.length >= lowest && (max === undefined || value.length <= max);
      };
    }
    case 'matches': {
      const [pattern, modifiers] = constraints;
      const regex = regexOf(pattern, modifiers);
      if (regex === null) return null;
      return (value) => typeof value === 'string' && regex.test(value);
    }
    default:
      return null;
  }
}

/**
 * The rule's pattern as one reusable RegExp, or `null` when `test` would not answer what `match`
 * does: global or sticky patterns (they carry `lastIndex`), or anything but a plain RegExp.
 */
function regexOf(pattern: unknown, modifiers: unknown): RegExp | null {
  let regex: RegExp;
  if (pattern instanceof RegExp) {
    if (Object.getPrototypeOf(pattern) !== RegExp.prototype || Object.getOwnPropertyNames(pattern).some((name) => name !== 'lastIndex')) return null;
    regex = pattern;
  } else if (typeof pattern === 'string' && (modifiers === undefined || typeof modifiers === 'string')) {
    try {
      regex = new RegExp(pattern, modifiers);
    } catch {
      return null;
    }
  } else {
    return null;
  }
  return regex.global || regex.sticky ? null : regex;
}
