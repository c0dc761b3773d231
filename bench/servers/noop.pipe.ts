import { Injectable, type PipeTransform } from '@nestjs/common';

/** A pipe that returns its input, synchronously: Nest's pipe machinery with no work. */
@Injectable()
export class NoopPipe implements PipeTransform {
  transform(value: unknown): unknown {
    return value;
  }
}
