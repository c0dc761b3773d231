/*
 * The one place that reads (and, for the slow-reader bound, writes) Nest's own `@Sse()` route
 * metadata. The keys its decorators write are imported from `@nestjs/common`'s `constants.js`,
 * which Nest 11 and 12 both ship (Nest 12's `internal` entry point does not exist in Nest 11), as
 * for gateways (see `inventory/gateway-metadata.reader.ts`).
 */
import type { Type } from '@nestjs/common';
import * as commonConstants from '@nestjs/common/constants.js';
import { INTERCEPTORS_METADATA, PATH_METADATA, SSE_METADATA } from '@nestjs/common/constants.js';
import type { DiscoveryService } from '@nestjs/core';

/** `@Sse()` options (`maxPendingDataLength`) exist from Nest 12; with Nest 11 there is no slow-reader bound to set. */
const SSE_OPTIONS_METADATA: string | undefined = (commonConstants as Record<string, unknown>).SSE_OPTIONS_METADATA as string | undefined;

/** One `@Sse()` route of a controller. */
export interface SseRoute {
  readonly controller: Type<unknown>;
  readonly methodName: string;
  /** The method itself (where method-level metadata lives). */
  readonly handler: object;
  /** Controller path + route path, as declared (no global prefix or version). */
  readonly path: string;
  /** The route's own `maxPendingDataLength`, when it sets one. */
  readonly maxPendingDataLength?: number;
}

/** True when `handler` is declared with `@Sse()`. */
export function isSseHandler(handler: object): boolean {
  return Reflect.getMetadata(SSE_METADATA, handler) === true;
}

/** Every `@Sse()` route of every controller Nest knows, inherited methods included. */
export function discoverSseRoutes(discovery: DiscoveryService): SseRoute[] {
  const routes: SseRoute[] = [];
  const seenControllers = new Set<Type<unknown>>();
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Type<unknown> | null | undefined;
    if (typeof controller !== 'function' || seenControllers.has(controller)) continue;
    seenControllers.add(controller);
    const base = pathsOf(Reflect.getMetadata(PATH_METADATA, controller))[0] ?? '';
    const seen = new Set<string>();
    for (let proto = controller.prototype as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      for (const methodName of Object.getOwnPropertyNames(proto)) {
        if (methodName === 'constructor' || seen.has(methodName)) continue;
        seen.add(methodName);
        const handler: unknown = Object.getOwnPropertyDescriptor(proto, methodName)?.value;
        if (typeof handler !== 'function' || !isSseHandler(handler)) continue;
        const own = SSE_OPTIONS_METADATA === undefined ? undefined : (Reflect.getMetadata(SSE_OPTIONS_METADATA, handler) as { maxPendingDataLength?: number } | undefined)?.maxPendingDataLength;
        routes.push({
          controller, methodName, handler,
          path: joinPath(base, pathsOf(Reflect.getMetadata(PATH_METADATA, handler))[0] ?? '/'),
          ...(typeof own === 'number' ? { maxPendingDataLength: own } : {}),
        });
      }
    }
  }
  return routes;
}

/**
 * Gives a route without its own `maxPendingDataLength` the module's bound, so a client that
 * stops reading is dropped (and its slot released) past it. Must run before Nest registers
 * routes (a provider factory does).
 */
export function applyPendingBound(route: SseRoute, maxBytes: number): void {
  if (route.maxPendingDataLength !== undefined || SSE_OPTIONS_METADATA === undefined) return;
  const current = (Reflect.getMetadata(SSE_OPTIONS_METADATA, route.handler) as Record<string, unknown> | undefined) ?? {};
  Reflect.defineMetadata(SSE_OPTIONS_METADATA, { ...current, maxPendingDataLength: maxBytes }, route.handler);
}

/**
 * Makes `interceptor` the route's first method-level interceptor (an instance, as the gateway
 * enhancer does with guards): only `@Sse()` handlers pay for it, not every HTTP route and
 * gateway message. Must run before Nest registers routes.
 */
export function secureSseRoute(route: SseRoute, interceptor: object): void {
  const interceptors = (Reflect.getOwnMetadata(INTERCEPTORS_METADATA, route.handler) as unknown[] | undefined) ?? [];
  if (!interceptors.includes(interceptor)) Reflect.defineMetadata(INTERCEPTORS_METADATA, [interceptor, ...interceptors], route.handler);
}

function pathsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function joinPath(base: string, path: string): string {
  const parts = [base, path].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p.length > 0);
  return `/${parts.join('/')}`;
}

/** Controller path + route path of a handler, as declared. */
export function routePathOf(controller: object, handler: object): string {
  return joinPath(pathsOf(Reflect.getMetadata(PATH_METADATA, controller))[0] ?? '', pathsOf(Reflect.getMetadata(PATH_METADATA, handler))[0] ?? '/');
}
