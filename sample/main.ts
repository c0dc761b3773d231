import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SecureIoAdapter } from '../lib/index.js';
import { AppModule } from './app.module.js';
import { defaultOrigins, loadSampleConfig } from './config/sample-config.js';
import { signDemoToken } from './demo/demo-tokens.js';
import { DEMO_USERS } from './demo/demo-users.js';
import { MetricsEndpoint } from './metrics/metrics-endpoint.js';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Sample');
  const loaded = loadSampleConfig();
  // With PORT=0 the real port is known only after listen; reserve it first so the default
  // Origin allowlist can name it.
  const port = loaded.port === 0 ? await freePort(loaded.host) : loaded.port;
  const config = { ...loaded, port, allowedOrigins: loaded.allowedOrigins.length > 0 ? loaded.allowedOrigins : defaultOrigins(port) };
  if (config.metricsPort !== 0 && config.metricsPort === config.port) {
    throw new Error(`METRICS_PORT must differ from PORT (${config.port}): metrics are never served on the public port. Pick another port, or 0 to turn them off.`);
  }
  // Before the app: the library reads the global meter provider at bootstrap.
  const metricsEndpoint = config.metricsPort === 0 ? null : await MetricsEndpoint.start(config.metricsPort);
  try {
    const app = await NestFactory.create(AppModule.register(config), { logger: ['error', 'warn', 'log'] });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    app.enableShutdownHooks();
    if (metricsEndpoint !== null) app.getHttpServer().once('close', () => void metricsEndpoint.close());
    await app.listen(config.port, config.host);
  } catch (error) {
    // A start-up failure must not leave the metrics server holding the process open.
    await metricsEndpoint?.close();
    throw error;
  }
  if (config.generatedSecret) {
    logger.warn('JWT_SECRET is not set: generated a random key for this run. Demo tokens (valid 1 hour):');
    for (const user of DEMO_USERS) logger.warn(`  ${user.label}: ${signDemoToken(config.jwtSecret, user, 3600, { issuer: config.jwtIssuer, audience: config.jwtAudience })}`);
  }
  if (config.jwksUrl !== null) {
    logger.log('JWKS_URL is set: tokens are verified against that key set (RS256, ES256, EdDSA); JWT_SECRET is not used and the demo login is off.');
  }
  const shown = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  // Contract: one line containing "listening on http://127.0.0.1:<port>".
  if (metricsEndpoint !== null) logger.log(`metrics on ${metricsEndpoint.url} (127.0.0.1 only)`);
  console.log(`listening on http://${shown}:${config.port}`);
}

async function freePort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
