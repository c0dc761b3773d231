import type { StandardSchemaV1 } from '@standard-schema/spec';

/**
 * Options of {@link WsValidationPipe}. Whitelisting, refusing unknown properties and values, and
 * transforming to the DTO class are always on; these only tune the structural caps checked before
 * any transformation runs.
 */
export interface WsValidationPipeOptions {
  /** Deepest nesting of objects and arrays accepted; the payload object itself is depth 1 (1..64). @default 8 */
  maxDepth?: number;
  /** Longest array accepted, at any depth (0..100,000). @default 256 */
  maxArrayLength?: number;
  /** Longest string accepted, values and property names, in UTF-16 code units (1..10,000,000). @default 8192 */
  maxStringLength?: number;
  /** Most properties one object may have, at any depth (1..100,000). @default 64 */
  maxProperties?: number;
  /** Most field errors reported in one `VALIDATION_FAILED` answer (1..1000). @default 20 */
  maxReportedFields?: number;
  /** class-validator groups to validate. @default undefined (no groups) */
  groups?: string[];
  /** Also validate values of custom parameter decorators, not only `@MessageBody()`. @default false */
  validateCustomDecorators?: boolean;
  /**
   * A Standard Schema (zod, valibot, arktype, ...) for a pipe given to one parameter,
   * `@MessageBody(new WsValidationPipe({ schema }))`, which also works on Nest 11 (Nest 12's
   * `@MessageBody({ schema })` names it per parameter without this). The parameter's own schema,
   * when it has one, wins. @default undefined (DTO classes)
   */
  schema?: StandardSchemaV1;
}
