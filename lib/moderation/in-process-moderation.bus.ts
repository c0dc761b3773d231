import { Injectable, Logger } from '@nestjs/common';
import { describe } from '../connections/connection-lifecycle.js';
import type { ModerationBus, ModerationCommand } from '../interfaces/moderation-bus.interface.js';
import { ListenerSet } from '../utils/listener-set.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** Single-node bus: delivers each command to this process's listeners, synchronously. */
@Injectable()
export class InProcessModerationBus implements ModerationBus {
  private readonly failures = new ThrottledLog(new Logger('RealtimeSecurity'));
  private readonly listeners = new ListenerSet<ModerationCommand>();

  async publish(command: ModerationCommand): Promise<void> {
    this.listeners.emit(command, (error) => {
      this.failures.error(command.kind, `moderation listener failed on '${command.kind}': ${describe(error)}`);
    });
  }

  subscribe(listener: (command: ModerationCommand) => void): () => void {
    return this.listeners.add(listener);
  }
}
