import type { ArgumentsHost, CanActivate, ExecutionContext, OnModuleDestroy, Type, WsExceptionFilter } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { reply } from '../adapters/socket-reply.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import type { WsSecurityExceptionFilter } from '../filters/ws-security-exception.filter.js';
import type { MessagePipeline } from '../adapters/message.pipeline.js';
import { sessionOf, type ConnectionSession } from '../connections/connection-session.js';
import { prependClassFilter, prependClassGuard } from '../inventory/gateway-metadata.reader.js';
import { wsClientOf } from '../utils/ws-arguments.js';

/** Metadata key of a gateway class's {@link GatewaySlot}. */
const SLOT_METADATA = 'realtime-security:gateway-slot';

interface Member {
  readonly pipeline: MessagePipeline;
  readonly filter: WsSecurityExceptionFilter;
}

/**
 * What a gateway class carries in its guard and filter metadata: one stable guard and one
 * stable filter that route each call to the app owning the socket. The guard is the message
 * path's steps 6 to 8 (`MessagePipeline.admit`). Several apps (tests, nodes
 * in one process) may share a gateway class; metadata is per class, so it cannot hold one
 * app's instances.
 */
class GatewaySlot {
  private readonly members = new Set<Member>();
  /** The member when there is exactly one (the usual case: no iteration per message). */
  private only: Member | undefined = undefined;

  readonly guard: CanActivate = {
    canActivate: (context: ExecutionContext) => {
      const session = sessionOf(wsClientOf(context));
      const member = session === undefined ? undefined : this.owner(session);
      // No app owns the socket (closed meanwhile, or its app shut down): fail closed.
      if (member === undefined || session === undefined) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
      return member.pipeline.admit(context, session);
    },
  };

  readonly filter: WsExceptionFilter = {
    catch: (exception: unknown, host: ArgumentsHost) => {
      const socket = host.switchToWs().getClient<Socket>();
      const session = sessionOf(socket);
      const member = (session !== undefined ? this.owner(session) : undefined) ?? this.members.values().next().value;
      if (member !== undefined) {
        member.filter.catch(exception, host);
        return;
      }
      const ack: unknown = host.getArgByIndex(2);
      const code = exception instanceof WsSecurityException ? exception.code : SecurityErrorCode.INTERNAL;
      if (socket !== undefined && socket !== null) reply(socket, typeof ack === 'function' ? (ack as (body: unknown) => void) : undefined, new WsSecurityException(code).getBody());
    },
  };

  /**
   * The app whose session it is. With one app on the class, that app (its pipeline checks the
   * session is open); with several, the one holding the session.
   */
  private owner(session: ConnectionSession): Member | undefined {
    if (this.only !== undefined) return this.only;
    for (const member of this.members) if (member.pipeline.owns(session)) return member;
    return undefined;
  }

  add(member: Member): void {
    this.members.add(member);
    this.only = this.members.size === 1 ? member : undefined;
  }

  delete(member: Member): void {
    this.members.delete(member);
    this.only = this.members.size === 1 ? this.members.values().next().value : undefined;
  }
}

/**
 * Installs the message path's guard (first, after global guards) and the exception filter
 * (behind the gateway's own filters) on every gateway class. Runs when the module's providers
 * are instantiated, which is after every module is scanned and before Nest binds gateways
 * (it reads guards and filters at bind time).
 */
export class GatewaySecurityEnhancer implements OnModuleDestroy {
  private readonly member: Member;
  private readonly slots: GatewaySlot[] = [];
  private readonly enhanced: Type<unknown>[] = [];

  constructor(pipeline: MessagePipeline, filter: WsSecurityExceptionFilter) {
    this.member = { pipeline, filter };
  }

  /** The gateway classes this app secured. */
  get gateways(): readonly Type<unknown>[] {
    return this.enhanced;
  }

  enhance(gateways: readonly Type<unknown>[]): void {
    for (const gateway of gateways) {
      let slot = Reflect.getOwnMetadata(SLOT_METADATA, gateway) as GatewaySlot | undefined;
      if (slot === undefined) {
        slot = new GatewaySlot();
        Reflect.defineMetadata(SLOT_METADATA, slot, gateway);
      }
      prependClassGuard(gateway, slot.guard);
      prependClassFilter(gateway, slot.filter);
      slot.add(this.member);
      this.slots.push(slot);
      this.enhanced.push(gateway);
    }
  }

  onModuleDestroy(): void {
    for (const slot of this.slots) slot.delete(this.member);
    this.slots.length = 0;
  }
}
