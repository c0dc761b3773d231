import { Injectable, Logger } from '@nestjs/common';
import { describe } from '../connections/connection-lifecycle.js';
import type { PresenceBus, PresenceBusMessage } from '../interfaces/presence-bus.interface.js';

/** Single-node presence bus: delivers each message to this process's listeners, synchronously. */
@Injectable()
export class InProcessPresenceBus implements PresenceBus {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly listeners = new Set<(message: PresenceBusMessage) => void>();

  async publish(message: PresenceBusMessage): Promise<void> {
    for (const listener of [...this.listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.logger.error(`presence listener failed: ${describe(error)}`);
      }
    }
  }

  subscribe(listener: (message: PresenceBusMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
