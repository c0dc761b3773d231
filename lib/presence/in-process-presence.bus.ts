import { Injectable, Logger } from '@nestjs/common';
import { describe } from '../connections/connection-lifecycle.js';
import type { PresenceBus, PresenceBusMessage } from '../interfaces/presence-bus.interface.js';
import { ListenerSet } from '../utils/listener-set.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** Single-node presence bus: delivers each message to this process's listeners, synchronously. */
@Injectable()
export class InProcessPresenceBus implements PresenceBus {
  private readonly failures = new ThrottledLog(new Logger('RealtimeSecurity'));
  private readonly listeners = new ListenerSet<PresenceBusMessage>();

  async publish(message: PresenceBusMessage): Promise<void> {
    this.listeners.emit(message, (error) => {
      this.failures.error('listener', `presence listener failed: ${describe(error)}`);
    });
  }

  subscribe(listener: (message: PresenceBusMessage) => void): () => void {
    return this.listeners.add(listener);
  }
}
