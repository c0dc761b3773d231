/**
 * Cost per message of `WsValidationPipe` against Nest's stock `ValidationPipe` configured the
 * same way (whitelist, forbidNonWhitelisted, forbidUnknownValues, transform, a `WsException`
 * exceptionFactory), on the same DTOs and payloads, in one process, rounds interleaved.
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/validation-pipe.bench.js
 *
 * Prints µs per call (median of rounds) and the ratio ours/stock. No assertion: a measurement.
 *
 * A second table, in the same run: a handler validated by a zod schema (Standard Schema,
 * `@MessageBody({ schema })`) against the same handler with its DTO (the class-validator fast
 * path), both through `WsValidationPipe`, same payloads.
 */
import 'reflect-metadata';
import { ValidationPipe, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsObject, IsString, Length, Max, Min, ValidateNested } from 'class-validator';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import * as z from 'zod';
import { WsValidationPipe } from '../lib/pipes/ws-validation.pipe.js';
// The main bench's echo payload DTO (validated like the sample's SendMessageDto).
import { EchoDto as SendDto } from './servers/echo.dto.js';

class TagDto {
  @IsString()
  @Length(1, 32)
  name!: string;

  @IsInt()
  @Min(0)
  @Max(100)
  weight!: number;
}

class NestedDto {
  @IsObject()
  @ValidateNested()
  @Type(() => TagDto)
  tag!: TagDto;

  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => TagDto)
  tags!: TagDto[];
}

interface Case {
  name: string;
  metatype: ArgumentMetadata['metatype'];
  payload: () => unknown;
  /** The same rules as `metatype`, as a zod schema. */
  schema: StandardSchemaV1;
}

const sendSchema = z.strictObject({
  channelId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/).refine((id) => !['__proto__', 'constructor', 'prototype'].includes(id)),
  text: z.string().min(1).max(2000),
});
const tagSchema = z.strictObject({ name: z.string().min(1).max(32), weight: z.number().int().min(0).max(100) });
const nestedSchema = z.strictObject({ tag: tagSchema, tags: z.array(tagSchema).max(10) });

const text = 'hello, this is a chat message of ordinary length: about one line of text.';
const CASES: Case[] = [
  { name: 'message:send valid', metatype: SendDto, schema: sendSchema, payload: () => ({ channelId: 'general', text }) },
  { name: 'message:send invalid (extra key, bad text)', metatype: SendDto, schema: sendSchema, payload: () => ({ channelId: 'general', text: 7, extra: 1 }) },
  { name: 'nested valid (1 + 5 objects)', metatype: NestedDto, schema: nestedSchema, payload: () => ({ tag: { name: 'a', weight: 1 }, tags: Array.from({ length: 5 }, (_, i) => ({ name: `t${i}`, weight: i })) }) },
  { name: '__proto__ payload', metatype: SendDto, schema: sendSchema, payload: () => JSON.parse('{"channelId":"general","text":"x","__proto__":{"polluted":true}}') as unknown },
];

const ours: PipeTransform = new WsValidationPipe();
const stock: PipeTransform = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
  exceptionFactory: (errors) => new WsException(errors),
});

async function callsPerRound(pipe: PipeTransform, c: Case, calls: number, withSchema = false): Promise<number> {
  const metadata: ArgumentMetadata = withSchema ? { type: 'body', metatype: Object, schema: c.schema } : { type: 'body', metatype: c.metatype };
  const payloads = Array.from({ length: calls }, c.payload);
  const start = process.hrtime.bigint();
  for (const payload of payloads) {
    try {
      await pipe.transform(payload, metadata);
    } catch {
      // refusals are part of the cost
    }
  }
  return Number(process.hrtime.bigint() - start) / 1000 / calls;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 15);
  const calls = Number(process.env.CALLS ?? 2000);
  console.log(`node ${process.version}, ${rounds} rounds x ${calls} calls per pipe and case (median of rounds)`);
  console.log('case'.padEnd(44), 'WsValidationPipe'.padStart(17), 'ValidationPipe'.padStart(15), 'ratio'.padStart(7));
  for (const c of CASES) {
    // Warm-up: JIT, class-validator metadata, the stock pipe's lazy package loading.
    await callsPerRound(ours, c, calls);
    await callsPerRound(stock, c, calls);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      a.push(await callsPerRound(ours, c, calls));
      b.push(await callsPerRound(stock, c, calls));
    }
    const [mine, theirs] = [median(a), median(b)];
    console.log(c.name.padEnd(44), `${mine.toFixed(2)} µs`.padStart(17), `${theirs.toFixed(2)} µs`.padStart(15), (mine / theirs).toFixed(2).padStart(7));
  }
  console.log('');
  console.log('WsValidationPipe per message: a zod schema (@MessageBody({ schema })) against the DTO (class-validator fast path)');
  console.log('case'.padEnd(44), 'zod schema'.padStart(17), 'DTO'.padStart(15), 'ratio'.padStart(7));
  for (const c of CASES) {
    await callsPerRound(ours, c, calls, true);
    await callsPerRound(ours, c, calls);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      a.push(await callsPerRound(ours, c, calls, true));
      b.push(await callsPerRound(ours, c, calls));
    }
    const [schema, dto] = [median(a), median(b)];
    console.log(c.name.padEnd(44), `${schema.toFixed(2)} µs`.padStart(17), `${dto.toFixed(2)} µs`.padStart(15), (schema / dto).toFixed(2).padStart(7));
  }
}

void main();
