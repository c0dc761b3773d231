import type { INestApplication, LoggerService, Provider, Type } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { RealtimeSecurityModule, SecureIoAdapter, type RealtimeSecurityOptions } from '../../lib/index.js';
import { TEST_SECRET } from './tokens.js';

export interface TestApp {
  app: INestApplication;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface TestAppOptions {
  security?: Partial<RealtimeSecurityOptions>;
  gateways?: Type<unknown>[];
  controllers?: Type<unknown>[];
  providers?: Provider[];
  imports?: NonNullable<Parameters<typeof Module>[0]>['imports'];
  /** The app's logger (for example a `CapturingLogger`); default none. */
  logger?: LoggerService;
}

/** Starts a Nest app with the module, the adapter and the given gateways on 127.0.0.1:0. */
export async function startApp(options: TestAppOptions = {}): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      RealtimeSecurityModule.forRoot({ jwt: { secret: TEST_SECRET }, logSecurityEvents: false, ...options.security }),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: [...(options.gateways ?? []), ...(options.providers ?? [])],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: options.logger ?? false });
  app.useWebSocketAdapter(new SecureIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  return { app, url, port: address.port, close: () => app.close() };
}
