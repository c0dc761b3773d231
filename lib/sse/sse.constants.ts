/** Injection token of the app's `@Sse()` routes, found at start-up. Internal. */
export const SSE_ROUTES = Symbol('RealtimeSecuritySseRoutes');
