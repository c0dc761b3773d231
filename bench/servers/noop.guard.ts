import { Injectable, type CanActivate } from '@nestjs/common';

/** A guard that lets everything through, synchronously: Nest's guard machinery with no check. */
@Injectable()
export class NoopGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}
