import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import type { Attributes } from '@opentelemetry/api';

/** One data point of a collection: the instrument name, its attributes and its value (a histogram's value is its count). */
export interface CollectedPoint {
  readonly name: string;
  readonly attributes: Attributes;
  readonly value: number;
}

/** A pull reader for tests: `collect()` when the test wants to look (no timers, nothing exported). */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A real SDK meter provider with a pull reader, passed to the module as `metrics.meterProvider`. */
export class TestMetrics {
  readonly reader = new PullReader();
  readonly provider = new MeterProvider({ readers: [this.reader] });

  /** Every data point of every instrument now. */
  async points(): Promise<CollectedPoint[]> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new Error(`collection failed: ${errors.map(String).join('; ')}`);
    const points: CollectedPoint[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints as DataPoint<unknown>[]) {
          const value = typeof point.value === 'number' ? point.value : (point.value as { count: number }).count;
          points.push({ name: metric.descriptor.name, attributes: point.attributes, value });
        }
      }
    }
    return points;
  }

  /** Sum of the values of `name` whose attributes include `attributes`. */
  async sum(name: string, attributes: Attributes = {}): Promise<number> {
    return (await this.points())
      .filter((p) => p.name === name && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
      .reduce((total, p) => total + p.value, 0);
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
