import type { LoggerService, Type } from '@nestjs/common';
import type { RealtimeSecurityOptions } from '../../lib/index.js';
import { startApp, type TestApp } from './app.js';
import { closeAllClients } from './clients.js';
import { Probe, probeGateway } from './probe.gateway.js';

export interface ProbeAppOptions {
  /** Default: one probe gateway on `/chat`. */
  gateways?: Type<unknown>[];
  security?: Partial<RealtimeSecurityOptions>;
  logger?: LoggerService;
}

export interface ProbeApp {
  /** The running app; its getters throw before `beforeAll` has started it. */
  readonly t: Pick<TestApp, 'app' | 'url'>;
  /** The app's `Probe` (one instance, provided to the app as a value). */
  readonly probe: Probe;
}

/**
 * Registers, in the calling describe block, the hooks of a probe app: `beforeAll` starts it,
 * `beforeEach` resets the probe, `afterEach` closes the socket.io clients, `afterAll` closes the app.
 * A block's own hooks registered after this call run after these ones.
 */
export function useProbeApp(options: ProbeAppOptions = {}): ProbeApp {
  const probe = new Probe();
  let started: TestApp | undefined;
  const running = (): TestApp => {
    if (started === undefined) throw new Error('the probe app is not started (use it inside a test or a hook)');
    return started;
  };
  beforeAll(async () => {
    started = await startApp({
      gateways: options.gateways ?? [probeGateway('/chat')],
      providers: [{ provide: Probe, useValue: probe }],
      security: options.security,
      logger: options.logger,
    });
  });
  beforeEach(() => probe.reset());
  afterEach(() => closeAllClients());
  afterAll(async () => { await started?.close(); });
  return {
    t: {
      get app() { return running().app; },
      get url() { return running().url; },
    },
    probe,
  };
}
