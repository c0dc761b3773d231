/*
 * The one place that reads (and, for the class-level guard and filter, writes) Nest's own
 * gateway metadata. Why here and why these imports: `@nestjs/websockets` exposes the keys its
 * decorators write (`@WebSocketGateway`, `@SubscribeMessage`) only as constants, not from its
 * root, and `@nestjs/common` the guard/filter keys likewise. They are imported from the
 * `constants.js` files that Nest 11 and 12 both ship (Nest 12's `internal` entry points, which
 * re-export them, do not exist in Nest 11); `UseGuards`/`UseFilters`
 * can only append, while the library's guard must run first and its filter must come last so
 * that it never shadows a gateway's own filters. Keeping it in one file makes a Nest upgrade a
 * one-file review.
 */
import type { Type } from '@nestjs/common';
import { EXCEPTION_FILTERS_METADATA, GUARDS_METADATA } from '@nestjs/common/constants.js';
import type { DiscoveryService } from '@nestjs/core';
import type { GatewayMetadata } from '@nestjs/websockets';
import { GATEWAY_METADATA, GATEWAY_OPTIONS, MESSAGE_MAPPING_METADATA, MESSAGE_METADATA, PORT_METADATA } from '@nestjs/websockets/constants.js';

/** One `@SubscribeMessage` handler of a gateway class. */
export interface GatewayHandler {
  readonly methodName: string;
  /** The event it subscribes to, as declared. */
  readonly event: string;
  /** The method itself (where method-level metadata lives). */
  readonly callback: object;
}

/** Every gateway class registered as a provider, found the way `@nestjs/websockets` finds them. */
export function discoverGateways(discovery: DiscoveryService): Type<unknown>[] {
  const found = new Set<Type<unknown>>();
  for (const wrapper of discovery.getProviders()) {
    const metatype = wrapper.metatype as Type<unknown> | null | undefined;
    if (wrapper.isNotMetatype || typeof metatype !== 'function') continue;
    if (Reflect.getMetadataKeys(metatype).includes(GATEWAY_METADATA)) found.add(metatype);
  }
  return [...found];
}

/** The options given to `@WebSocketGateway(...)`. */
export function gatewayOptions(gateway: Type<unknown>): GatewayMetadata {
  return (Reflect.getMetadata(GATEWAY_OPTIONS, gateway) as GatewayMetadata | undefined) ?? {};
}

/** The port given to `@WebSocketGateway(port, ...)`; 0 means the HTTP server's. */
export function gatewayPort(gateway: Type<unknown>): number {
  const port = Reflect.getMetadata(PORT_METADATA, gateway) as unknown;
  return typeof port === 'number' ? port : 0;
}

/** Every `@SubscribeMessage` handler of a gateway class, inherited ones included. */
export function gatewayHandlers(gateway: Type<unknown>): GatewayHandler[] {
  const handlers: GatewayHandler[] = [];
  const seen = new Set<string>();
  for (let proto = gateway.prototype as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const methodName of Object.getOwnPropertyNames(proto)) {
      if (methodName === 'constructor' || seen.has(methodName)) continue;
      seen.add(methodName);
      const descriptor = Object.getOwnPropertyDescriptor(proto, methodName);
      const callback: unknown = descriptor?.value;
      if (typeof callback !== 'function' || Reflect.getMetadata(MESSAGE_MAPPING_METADATA, callback) === undefined) continue;
      handlers.push({ methodName, event: String(Reflect.getMetadata(MESSAGE_METADATA, callback)), callback });
    }
  }
  return handlers;
}

/** Makes `guard` the gateway class's first guard (after global guards), unless it is there already. */
export function prependClassGuard(gateway: Type<unknown>, guard: object): void {
  const guards = (Reflect.getOwnMetadata(GUARDS_METADATA, gateway) as unknown[] | undefined) ?? [];
  if (!guards.includes(guard)) Reflect.defineMetadata(GUARDS_METADATA, [guard, ...guards], gateway);
}

/**
 * Makes `filter` the gateway class's fallback filter, unless it is there already. Nest tries a
 * handler's filters method-level first, then class-level, last declared first: the first
 * class-level entry is tried last, so the gateway's own filters keep precedence.
 */
export function prependClassFilter(gateway: Type<unknown>, filter: object): void {
  const filters = (Reflect.getOwnMetadata(EXCEPTION_FILTERS_METADATA, gateway) as unknown[] | undefined) ?? [];
  if (!filters.includes(filter)) Reflect.defineMetadata(EXCEPTION_FILTERS_METADATA, [filter, ...filters], gateway);
}
