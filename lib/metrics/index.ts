export { SecurityMetrics, METER_NAME, type OpenConnectionSource } from './security-metrics.js';
export {
  OTHER,
  socketDisconnectReason,
  terminationReason,
  transportOf,
  type ConnectionTransport,
  type DisconnectReason,
  type ModerationAction,
  type RedisFailureKind,
} from './metric-labels.js';
