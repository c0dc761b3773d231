import { Injectable, Logger } from '@nestjs/common';
import { describe } from '../connections/connection-lifecycle.js';
import type { RoomPresenceBus, RoomPresenceBusMessage } from '../interfaces/room-presence-bus.interface.js';
import { ListenerSet } from '../utils/listener-set.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** Single-node room presence bus: delivers each message to this process's listeners, synchronously. */
@Injectable()
export class InProcessRoomPresenceBus implements RoomPresenceBus {
  private readonly failures = new ThrottledLog(new Logger('RealtimeSecurity'));
  private readonly listeners = new ListenerSet<RoomPresenceBusMessage>();

  async publish(message: RoomPresenceBusMessage): Promise<void> {
    this.listeners.emit(message, (error) => {
      this.failures.error('listener', `room presence listener failed: ${describe(error)}`);
    });
  }

  subscribe(listener: (message: RoomPresenceBusMessage) => void): () => void {
    return this.listeners.add(listener);
  }
}
