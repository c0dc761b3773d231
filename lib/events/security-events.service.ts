import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { SecurityEvent, SecurityEventKind } from '../interfaces/security-event.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** Log lines per kind, code, user and address in 10 s; the rest are counted in the next line (the stream gets every event). */
const LOG_BURST = 20;

const WARN_KINDS: ReadonlySet<SecurityEventKind> = new Set(['origin_refused', 'banned', 'disconnected_by_moderation']);

/**
 * Every refusal and enforcement, as a typed stream (`events$`) and as log lines. Events carry
 * who, where and which code; never a token, cookie, engine id or payload.
 */
@Injectable()
export class SecurityEventsService implements OnModuleDestroy {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly subject = new Subject<SecurityEvent>();
  /** A client repeating one refusal (a banned user reconnecting in a loop) cannot flood the log. */
  private readonly lines = new ThrottledLog(this.logger, undefined, undefined, LOG_BURST);

  /** Subscribe to receive every security event as it happens. */
  readonly events$: Observable<SecurityEvent> = this.subject.asObservable();

  constructor(@Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions) {}

  emit(event: Omit<SecurityEvent, 'at'>): void {
    const full: SecurityEvent = Object.freeze({ ...event, at: Date.now() });
    if (this.options.logSecurityEvents) this.log(full);
    this.subject.next(full);
  }

  onModuleDestroy(): void {
    this.subject.complete();
  }

  private log(event: SecurityEvent): void {
    const who = event.userId !== undefined ? ` user=${JSON.stringify(event.userId)} tenant=${JSON.stringify(event.tenantId ?? '')}` : '';
    const where = `${event.namespace !== undefined ? ` nsp=${JSON.stringify(event.namespace)}` : ''}${event.event !== undefined ? ` event=${JSON.stringify(event.event.slice(0, 64))}` : ''}`;
    const why = `${event.permission !== undefined ? ` permission=${JSON.stringify(event.permission)}` : ''}${event.reason !== undefined ? ` reason=${event.reason}` : ''}`;
    const line = `${event.kind} code=${event.code}${who}${where}${why}${event.address !== undefined ? ` addr=${event.address}` : ''}`;
    const key = `${event.kind}:${event.code}:${event.tenantId ?? ''}/${event.userId ?? ''}@${event.address ?? ''}:${event.reason ?? ''}`;
    if (event.kind === 'internal_error') this.lines.error(key, line);
    // A refusal by deny-by-default is a gateway missing its decorator: worth an operator's eye.
    else if (WARN_KINDS.has(event.kind) || event.reason === 'undecorated') this.lines.warn(key, line);
    else this.lines.debug(key, line);
  }
}
