import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseWsExceptionFilter } from '@nestjs/websockets';

/** The stock WebSocket exception filter, bound explicitly: Nest's filter lookup with nothing to catch. */
@Catch()
export class PassThroughFilter extends BaseWsExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    super.catch(exception, host);
  }
}
