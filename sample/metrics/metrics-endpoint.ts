import { createServer, type Server } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * The sample's Prometheus page: the OpenTelemetry SDK (a `MeterProvider` with a Prometheus
 * reader, registered as the global provider, which the library picks up at bootstrap) and
 * `GET /metrics` in the Prometheus text format on its own HTTP server, bound to 127.0.0.1 only:
 * never on the public port, never on another interface. Anything but `GET`/`HEAD /metrics` is 404.
 */
export class MetricsEndpoint {
  private constructor(
    private readonly server: Server,
    private readonly provider: MeterProvider,
    /** `http://127.0.0.1:<port>/metrics` */
    readonly url: string,
  ) {}

  /** Registers the SDK globally and listens on 127.0.0.1:`port` (`0`: a free port). */
  static async start(port: number): Promise<MetricsEndpoint> {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    metrics.setGlobalMeterProvider(provider);
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if ((req.method === 'GET' || req.method === 'HEAD') && path === '/metrics') {
        exporter.getMetricsRequestHandler(req, res);
        return;
      }
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('Not found\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = (server.address() as { port: number }).port;
    return new MetricsEndpoint(server, provider, `http://127.0.0.1:${bound}/metrics`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.provider.shutdown().catch(() => undefined);
  }
}
