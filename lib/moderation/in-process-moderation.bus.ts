import { Injectable, Logger } from '@nestjs/common';
import { describe } from '../connections/connection-lifecycle.js';
import type { ModerationBus, ModerationCommand } from '../interfaces/moderation-bus.interface.js';

/** Single-node bus: delivers each command to this process's listeners, synchronously. */
@Injectable()
export class InProcessModerationBus implements ModerationBus {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly listeners = new Set<(command: ModerationCommand) => void>();

  async publish(command: ModerationCommand): Promise<void> {
    for (const listener of [...this.listeners]) {
      try {
        listener(command);
      } catch (error) {
        this.logger.error(`moderation listener failed on '${command.kind}': ${describe(error)}`);
      }
    }
  }

  subscribe(listener: (command: ModerationCommand) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
