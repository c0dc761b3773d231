import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import type { FieldError } from '../exceptions/ws-security.exception.js';
import { FORBIDDEN_KEYS } from './payload.inspector.js';

/** A rule name taken from an issue: short, plain, never text that could carry the input. */
const RULE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** Nodes of a schema's JSON Schema read to learn its property names (a bound, not a budget anyone reaches). */
const MAX_JSON_SCHEMA_NODES = 10_000;

/** Property names a schema declares, learnt once per schema; null when it cannot say. */
const declaredNames = new WeakMap<object, ReadonlySet<string> | null>();

/** A Standard Schema v1 (zod, valibot, arktype, ...): an object or function with `~standard.validate`. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const standard = (value as { '~standard'?: unknown })['~standard'];
  return standard !== null && typeof standard === 'object'
    && (standard as { version?: unknown }).version === 1
    && typeof (standard as { validate?: unknown }).validate === 'function';
}

/**
 * The property names `schema` declares, read from its Standard JSON Schema (`~standard.jsonSchema`,
 * e.g. zod 4) once and cached: every key of every `properties` object. Null when the schema has
 * no converter or its converter fails (a transform, say): then no name counts as declared.
 */
export function declaredNamesOf(schema: StandardSchemaV1): ReadonlySet<string> | null {
  const cached = declaredNames.get(schema);
  if (cached !== undefined) return cached;
  let names: Set<string> | null = null;
  const converter = (schema['~standard'] as Partial<StandardJSONSchemaV1.Props>).jsonSchema;
  if (converter !== undefined && converter !== null && typeof converter.input === 'function') {
    try {
      names = collectPropertyNames(converter.input({ target: 'draft-2020-12' }));
    } catch {
      names = null;
    }
  }
  declaredNames.set(schema, names);
  return names;
}

function collectPropertyNames(root: unknown): Set<string> {
  const names = new Set<string>();
  const stack: unknown[] = [root];
  let visited = 0;
  while (stack.length > 0 && visited++ < MAX_JSON_SCHEMA_NODES) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      stack.push(...node);
      continue;
    }
    const properties = (node as { properties?: unknown }).properties;
    if (properties !== null && typeof properties === 'object' && !Array.isArray(properties)) {
      for (const name of Object.keys(properties)) names.add(name);
    }
    stack.push(...Object.values(node));
  }
  return names;
}

/**
 * A schema's issues as `fields`: one entry per path, with the rule names of its issues. A rule
 * name is the issue's `code` (zod, arktype) or `type` (valibot) when it is a plain identifier,
 * else `invalid`; the issue's `message` is never used (it may quote the input). A path segment is
 * shown when it is an array index, a forbidden key, or a name the schema declares; anything else
 * came from the client and is `*`.
 */
export function fieldsOfIssues(
  issues: readonly StandardSchemaV1.Issue[],
  prefix: string,
  declared: ReadonlySet<string> | null,
  maxFields: number,
  joinPath: (prefix: string, segments: readonly (string | number)[]) => string,
): FieldError[] {
  const byPath = new Map<string, string[]>();
  for (const issue of issues) {
    const segments = (issue.path ?? []).map((segment) => shownSegment(typeof segment === 'object' && segment !== null ? segment.key : segment, declared));
    const path = joinPath(prefix, segments);
    let rules = byPath.get(path);
    if (rules === undefined) {
      if (byPath.size >= maxFields) continue;
      rules = [];
      byPath.set(path, rules);
    }
    const rule = ruleOf(issue);
    if (!rules.includes(rule)) rules.push(rule);
  }
  const fields = [...byPath].map(([path, constraints]) => ({ path, constraints }));
  return fields.length > 0 ? fields : [{ path: prefix, constraints: ['invalid'] }];
}

/** A segment of a path inside the payload (cap violations and schema issues alike). */
export function shownSegment(segment: PropertyKey, declared: ReadonlySet<string> | null): string | number {
  if (typeof segment === 'number') return Number.isInteger(segment) && segment >= 0 ? segment : '*';
  if (typeof segment !== 'string') return '*';
  if (FORBIDDEN_KEYS.has(segment) || (declared !== null && declared.has(segment))) return segment;
  return '*';
}

function ruleOf(issue: StandardSchemaV1.Issue): string {
  const { code, type } = issue as { code?: unknown; type?: unknown };
  if (typeof code === 'string' && RULE_NAME.test(code)) return code;
  if (typeof type === 'string' && RULE_NAME.test(type)) return type;
  return 'invalid';
}
