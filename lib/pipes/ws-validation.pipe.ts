import { Injectable, Optional, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError, type ValidatorOptions } from 'class-validator';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException, type FieldError } from '../exceptions/ws-security.exception.js';
import { compileDtoFastPath, type DtoFastPath } from './dto-fast-path.js';
import { dtoMetadataOf, isDtoType } from './dto-metadata.js';
import { FORBIDDEN_KEYS, inspectPayload, type PayloadLimits } from './payload.inspector.js';
import { declaredNamesOf, fieldsOfIssues, isStandardSchema, shownSegment } from './standard-schema.js';
import { isThenable } from '../utils/is-thenable.js';
import type { WsValidationPipeOptions } from './ws-validation-pipe-options.interface.js';

const DEFAULTS = { maxDepth: 8, maxArrayLength: 256, maxStringLength: 8192, maxProperties: 64, maxReportedFields: 20 } as const;
const RANGES: Readonly<Record<keyof typeof DEFAULTS, readonly [number, number]>> = {
  maxDepth: [1, 64],
  maxArrayLength: [0, 100_000],
  maxStringLength: [1, 10_000_000],
  maxProperties: [1, 100_000],
  maxReportedFields: [1, 1000],
};

/**
 * Validates WebSocket message payloads against DTO classes (class-validator + class-transformer),
 * like Nest's `ValidationPipe` with `whitelist`, `forbidNonWhitelisted`, `forbidUnknownValues`
 * and `transform` always on:
 *
 * ```ts
 * @UsePipes(new WsValidationPipe())           // every handler of a gateway
 * handle(@MessageBody() body: SendMessageDto) // receives a SendMessageDto instance
 * ```
 *
 * Before anything is transformed, in order:
 *  1. a DTO parameter must receive one plain object: arrays, primitives, `null`, nothing, or
 *     several arguments (which Nest hands over as an array) are refused with `isObject`;
 *  2. the whole payload must fit the caps (`maxDepth`, `maxArrayLength`, `maxStringLength`,
 *     `maxProperties`) and hold no `__proto__`, `constructor` or `prototype` key at any depth,
 *     inside objects and arrays (`forbiddenKey`);
 *  3. class-transformer builds the DTO instance and class-validator checks it.
 * A flat payload of a DTO whose rules are all synchronous single-value constraints takes one walk
 * for 2 and 3: a path compiled once per class (and pipe) from the same metadata and the same
 * constraint objects checks the caps and keys as it builds the instance, and returns it
 * synchronously; anything else, and every payload that path cannot prove valid, takes the
 * separate inspection and the full class-transformer + class-validator path (so refusals read the
 * same).
 * A refusal is `WsSecurityException('VALIDATION_FAILED', { fields: [{ path, constraints }] })`:
 * rule names and paths only, never a value. A path segment the DTO does not declare came from
 * the client and is shown as `*` (the three forbidden keys are shown by name).
 *
 * Parameters typed `string`, `number` or `boolean` (e.g. `@MessageBody('channelId') id: string`)
 * must hold that type; other non-DTO types (interfaces, `unknown`) get the structural checks only.
 *
 * A parameter that names a Standard Schema (zod, valibot, arktype, ...) with Nest's own option,
 * `@MessageBody({ schema })` or `@MessageBody('field', { schema })`, is validated by that schema
 * instead of any DTO: the same caps and forbidden keys first (any JSON value may be the root),
 * then the schema's `validate` (synchronous or async); the handler gets the schema's output
 * (parsed, coerced, stripped). A refusal reads the same: paths, and rule names taken from the
 * issues' `code` (or `type`), never the issues' messages; a path segment the schema does not
 * declare (learnt from its Standard JSON Schema, when it has one) is shown as `*`.
 */
@Injectable()
export class WsValidationPipe implements PipeTransform<unknown, unknown> {
  private readonly limits: PayloadLimits;
  /** Per DTO class: its compiled fast path, or null when it has none (for this pipe's groups). */
  private readonly fastPaths = new WeakMap<abstract new (...args: never[]) => unknown, DtoFastPath | null>();
  private readonly maxReportedFields: number;
  private readonly validateCustomDecorators: boolean;
  private readonly validatorOptions: ValidatorOptions;
  private readonly schema: StandardSchemaV1 | undefined;

  constructor(@Optional() options: WsValidationPipeOptions = {}) {
    const opts = options ?? {};
    this.limits = Object.freeze({
      maxDepth: checked('maxDepth', opts.maxDepth),
      maxArrayLength: checked('maxArrayLength', opts.maxArrayLength),
      maxStringLength: checked('maxStringLength', opts.maxStringLength),
      maxProperties: checked('maxProperties', opts.maxProperties),
    });
    this.maxReportedFields = checked('maxReportedFields', opts.maxReportedFields);
    this.validateCustomDecorators = opts.validateCustomDecorators === true;
    if (opts.schema !== undefined && !isStandardSchema(opts.schema)) {
      throw new TypeError('WsValidationPipe: option `schema` is not a Standard Schema (v1). Pass a zod, valibot or arktype schema, or leave it out to validate DTO classes.');
    }
    this.schema = opts.schema;
    if (opts.groups !== undefined && (!Array.isArray(opts.groups) || opts.groups.some((g) => typeof g !== 'string'))) {
      throw new TypeError('WsValidationPipe: option `groups` must be an array of strings. Pass the class-validator groups to check, or leave it out.');
    }
    this.validatorOptions = Object.freeze({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      // Errors never carry the object or the value: nothing of the input can reach an answer.
      validationError: { target: false, value: false },
      ...(opts.groups !== undefined ? { groups: [...opts.groups] } : {}),
    });
  }

  /**
   * The value for the handler: the DTO instance (synchronously when the fast path proves it valid,
   * else a promise), or the value itself for non-DTO parameters. Refusals are thrown (or reject).
   */
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' && !(metadata.type === 'custom' && this.validateCustomDecorators)) return value;
    const prefix = metadata.data ?? '';
    const schema = metadata.schema ?? this.schema;
    if (schema !== undefined) return this.validateWithSchema(schema, value, prefix);
    const type = metadata.metatype;
    if (!isDtoType(type)) {
      this.checkNonDto(value, type, prefix);
      return value;
    }
    if (!isRootObject(value, type)) throw refusal([{ path: prefix, constraints: ['isObject'] }]);
    // One walk for a flat payload: the compiled path checks the caps and keys as it builds the instance.
    let fastPath = this.fastPaths.get(type);
    if (fastPath === undefined) {
      fastPath = dtoMetadataOf(type).validated ? compileDtoFastPath(type, this.validatorOptions.groups, this.limits) : null;
      this.fastPaths.set(type, fastPath);
    }
    const instance = fastPath?.(value as Readonly<Record<string, unknown>>);
    if (instance !== undefined) return instance;
    const dto = dtoMetadataOf(type);
    const violation = inspectPayload(value, this.limits, acceptsNestedObject);
    if (violation !== null) {
      const path = joinPath(prefix, violation.path.map((s) => (typeof s === 'number' || dto.declared.has(s) || FORBIDDEN_KEYS.has(s) ? s : '*')));
      throw refusal([{ path, constraints: [violation.constraint] }]);
    }
    if (!dto.validated) throw refusal([{ path: prefix, constraints: ['unknownValue'] }]);
    return this.validateFully(type, value, prefix);
  }

  /**
   * Caps and forbidden keys, then the schema: its output (synchronously when its `validate` is),
   * or `VALIDATION_FAILED` built from its issues.
   */
  private validateWithSchema(schema: StandardSchemaV1, value: unknown, prefix: string): unknown {
    if (!isStandardSchema(schema)) {
      throw new TypeError('WsValidationPipe: the `schema` given to @MessageBody is not a Standard Schema (v1). Pass a zod, valibot or arktype schema (or any object with `~standard.validate`).');
    }
    const violation = inspectPayload(value, this.limits, isPlainObject);
    if (violation !== null) {
      const declared = violation.path.some((s) => typeof s === 'string') ? declaredNamesOf(schema) : null;
      throw refusal([{ path: joinPath(prefix, violation.path.map((s) => shownSegment(s, declared))), constraints: [violation.constraint] }]);
    }
    const result = schema['~standard'].validate(value);
    return isThenable(result) ? Promise.resolve(result).then((r) => this.schemaOutput(schema, r, prefix)) : this.schemaOutput(schema, result, prefix);
  }

  private schemaOutput(schema: StandardSchemaV1, result: StandardSchemaV1.Result<unknown>, prefix: string): unknown {
    if (result.issues === undefined) return result.value;
    throw refusal(fieldsOfIssues(result.issues, prefix, declaredNamesOf(schema), this.maxReportedFields, joinPath));
  }

  /** class-transformer builds the instance, class-validator checks it and words the refusal. */
  private async validateFully(type: abstract new (...args: never[]) => unknown, value: object, prefix: string): Promise<object> {
    const instance = plainToInstance(type as new () => object, value) as object;
    const errors = await validate(instance, this.validatorOptions);
    if (errors.length > 0) throw refusal(this.fieldsOf(errors, prefix));
    return instance;
  }

  private checkNonDto(value: unknown, type: unknown, path: string): void {
    if (type === String && typeof value !== 'string') throw refusal([{ path, constraints: ['isString'] }]);
    if (type === Number && (typeof value !== 'number' || !Number.isFinite(value))) throw refusal([{ path, constraints: ['isNumber'] }]);
    if (type === Boolean && typeof value !== 'boolean') throw refusal([{ path, constraints: ['isBoolean'] }]);
    if (type === Array && !Array.isArray(value)) throw refusal([{ path, constraints: ['isArray'] }]);
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !acceptsNestedObject(value)) {
      throw refusal([{ path, constraints: ['isObject'] }]);
    }
    const violation = inspectPayload(value, this.limits, acceptsNestedObject);
    if (violation !== null) {
      // No DTO declares any name here: every property segment came from the client.
      throw refusal([{ path: joinPath(path, violation.path.map((s) => (typeof s === 'number' || FORBIDDEN_KEYS.has(s) ? s : '*'))), constraints: [violation.constraint] }]);
    }
  }

  /** Flattens class-validator's tree into paths and rule names, at most `maxReportedFields`. */
  private fieldsOf(errors: readonly ValidationError[], prefix: string): FieldError[] {
    const fields: FieldError[] = [];
    const seen = new Set<string>();
    const walk = (list: readonly ValidationError[], parent: string) => {
      for (const error of list) {
        if (fields.length >= this.maxReportedFields) return;
        const constraints = error.constraints !== undefined ? Object.keys(error.constraints) : [];
        // An unknown property's name is the client's; class-validator only names declared ones otherwise.
        const segment = error.property === undefined || error.property === '' ? null
          : constraints.includes('whitelistValidation') || error.property.length > 64 ? '*'
            : /^\d{1,9}$/.test(error.property) ? Number(error.property) : error.property;
        const path = segment === null ? parent : joinPath(parent, [segment]);
        if (constraints.length > 0) {
          const key = `${path}\u0000${constraints.join(',')}`;
          if (!seen.has(key)) {
            seen.add(key);
            fields.push({ path, constraints });
          }
        }
        if (error.children !== undefined && error.children.length > 0) walk(error.children, path);
      }
    };
    walk(errors, prefix);
    return fields.length > 0 ? fields : [{ path: prefix, constraints: ['invalid'] }];
  }
}

function checked(name: keyof typeof DEFAULTS, value: unknown): number {
  if (value === undefined) return DEFAULTS[name];
  const [min, max] = RANGES[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`WsValidationPipe: option \`${name}\` must be an integer from ${min} to ${max}. Set it within that range or leave it out for ${DEFAULTS[name]}.`);
  }
  return value;
}

/** The payload itself: a plain object, or an instance of the DTO when a pipe runs twice. */
function isRootObject(value: unknown, type: abstract new (...args: never[]) => unknown): value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || proto === type.prototype;
}

/** Inside the payload: plain objects, or DTO instances of an already transformed payload. */
function acceptsNestedObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  const ctor: unknown = (proto as { constructor?: unknown }).constructor;
  return isDtoType(ctor) && dtoMetadataOf(ctor).validated;
}

/** Inside a schema-validated payload: plain objects only (a schema gets what the client sent). */
function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function joinPath(prefix: string, segments: readonly (string | number)[]): string {
  let path = prefix;
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else path = path === '' ? segment : `${path}.${segment}`;
  }
  return path;
}

function refusal(fields: FieldError[]): WsSecurityException {
  return new WsSecurityException(SecurityErrorCode.VALIDATION_FAILED, { fields });
}
