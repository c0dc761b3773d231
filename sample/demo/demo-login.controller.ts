import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  BadRequestException,
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  Logger,
  Post,
  Req,
  Res,
  UnauthorizedException,
  UnsupportedMediaTypeException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { normalizeOrigin } from '../../lib/index.js';
import { SAMPLE_CONFIG, type SampleConfig } from '../config/sample-config.js';
import { signDemoToken } from './demo-tokens.js';
import { DEMO_USERS, type DemoUser } from './demo-users.js';

/** The cookie the sample's Socket.IO handshake accepts (see `credentials.cookieName` in app.module.ts). */
export const SESSION_COOKIE = 'rt_session';

/** Lifetime of a demo session, in seconds (the cookie and its token expire together). */
const SESSION_TTL_SECONDS = 3600;

/** A demo user as the page shows it. */
export interface DemoUserView {
  readonly userId: string;
  readonly tenant: string;
  readonly label: string;
  readonly perms: readonly string[];
}

/** What the page learns about its session. The session token itself stays in the HttpOnly cookie. */
export interface DemoSessionView {
  readonly user: DemoUserView;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  /**
   * Moderators only: a bearer token carrying just their `moderation:*` permissions, for the
   * moderation HTTP routes (which never accept cookies, so no cross-site form can ban anyone).
   * The page keeps it in memory only.
   */
  readonly apiToken?: string;
}

/**
 * DEMO ONLY. Signs a browser in as one of the sample's demo users, without a password, by setting
 * the `rt_session` cookie (`HttpOnly; SameSite=Lax; Path=/`, plus `Secure` over HTTPS). A real app
 * sets that cookie from its own login. Registered only while `DEMO_LOGIN` is not `off`.
 *
 * - `GET /demo/users`: the demo users to pick from.
 * - `POST /demo/login` `{ userId }`: sets the cookie; answers a {@link DemoSessionView}.
 * - `GET /demo/session`: the current cookie's {@link DemoSessionView} (401 without a valid one).
 * - `POST /demo/logout`: clears the cookie.
 *
 * The POST routes take JSON only and refuse a foreign `Origin`, so another site can neither log a
 * visitor in nor out.
 */
@Controller('demo')
export class DemoLoginController implements OnApplicationBootstrap {
  private readonly logger = new Logger('DemoLogin');
  private readonly jwt = new JwtService();
  private readonly allowedOrigins: ReadonlySet<string>;

  constructor(@Inject(SAMPLE_CONFIG) private readonly config: SampleConfig) {
    this.allowedOrigins = new Set(config.allowedOrigins.map((o) => normalizeOrigin(o)).filter((o): o is string => o !== null));
  }

  onApplicationBootstrap(): void {
    this.logger.warn('DEMO LOGIN IS ON: POST /demo/login signs anyone in as a demo user without a password. Set DEMO_LOGIN=off outside a demo.');
  }

  /** JWT_ISSUER / JWT_AUDIENCE, which the handshake requires when set. */
  private claims(): { issuer: string | null; audience: string | null } {
    return { issuer: this.config.jwtIssuer, audience: this.config.jwtAudience };
  }

  @Get('users')
  users(): { users: DemoUserView[] } {
    return { users: DEMO_USERS.map(view) };
  }

  @Post('login')
  @HttpCode(200)
  login(@Req() req: IncomingMessage, @Res({ passthrough: true }) res: ServerResponse, @Body() body: unknown): DemoSessionView {
    this.checkRequest(req);
    const userId = body !== null && typeof body === 'object' ? (body as { userId?: unknown }).userId : undefined;
    const user = typeof userId === 'string' ? DEMO_USERS.find((u) => u.userId === userId) : undefined;
    if (user === undefined) throw new BadRequestException('userId must name one of the demo users (GET /demo/users)');
    const token = signDemoToken(this.config.jwtSecret, user, SESSION_TTL_SECONDS, this.claims());
    res.setHeader('Set-Cookie', cookie(`${SESSION_COOKIE}=${token}`, SESSION_TTL_SECONDS, isHttps(req)));
    res.setHeader('Cache-Control', 'no-store');
    return this.session(user, Date.now() + SESSION_TTL_SECONDS * 1000);
  }

  @Get('session')
  current(@Req() req: IncomingMessage, @Res({ passthrough: true }) res: ServerResponse): DemoSessionView {
    res.setHeader('Cache-Control', 'no-store');
    const token = readCookie(headerValue(req.headers.cookie), SESSION_COOKIE);
    if (token === undefined) throw new UnauthorizedException('Not logged in');
    let claims: { sub?: unknown; tenant?: unknown; exp?: unknown };
    try {
      claims = this.jwt.verify(token, { secret: this.config.jwtSecret, algorithms: ['HS256'] });
    } catch {
      throw new UnauthorizedException('Not logged in');
    }
    const user = DEMO_USERS.find((u) => u.userId === claims.sub && u.tenant === claims.tenant);
    if (user === undefined || typeof claims.exp !== 'number') throw new UnauthorizedException('Not logged in');
    return this.session(user, claims.exp * 1000);
  }

  @Post('logout')
  @HttpCode(204)
  logout(@Req() req: IncomingMessage, @Res({ passthrough: true }) res: ServerResponse): void {
    this.checkRequest(req);
    res.setHeader('Set-Cookie', cookie(`${SESSION_COOKIE}=`, 0, isHttps(req)));
  }

  /** JSON only (a cross-site form cannot send it without CORS), and no foreign Origin. */
  private checkRequest(req: IncomingMessage): void {
    const type = headerValue(req.headers['content-type']) ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) throw new UnsupportedMediaTypeException('Send application/json');
    const origin = headerValue(req.headers.origin);
    if (origin !== undefined) {
      const normalized = normalizeOrigin(origin);
      if (normalized === null || !this.allowedOrigins.has(normalized)) throw new ForbiddenException('Origin not allowed');
    }
  }

  private session(user: DemoUser, expiresAt: number): DemoSessionView {
    const moderation = user.perms.filter((p) => p.startsWith('moderation:'));
    const apiToken = moderation.length > 0
      ? signDemoToken(this.config.jwtSecret, { ...user, perms: moderation }, Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)), this.claims())
      : undefined;
    return { user: view(user), expiresAt, ...(apiToken !== undefined ? { apiToken } : {}) };
  }
}

function view(user: DemoUser): DemoUserView {
  return { userId: user.userId, tenant: user.tenant, label: user.label, perms: [...user.perms] };
}

function cookie(pair: string, maxAgeSeconds: number, secure: boolean): string {
  return `${pair}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

function isHttps(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
