// Prometheus metrics of the query service (prom-client, one registry per server): requests, latency
// by route and part, errors, abstentions, feedback by rating and reason, and Node's own metrics.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qaforge_' });
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  return {
    registry,
    requests: new Counter({ name: 'qaforge_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'qaforge_request_duration_seconds',
      help: 'Request latency by route and part (retrieve, generate, total)',
      labelNames: ['route', 'part'],
      buckets,
      registers: [registry],
    }),
    errors: new Counter({ name: 'qaforge_http_errors_total', help: 'Error responses by route and code', labelNames: ['route', 'code'], registers: [registry] }),
    abstentions: new Counter({ name: 'qaforge_abstentions_total', help: 'Answers that abstained, by route and reason', labelNames: ['route', 'reason'], registers: [registry] }),
    feedback: new Counter({ name: 'qaforge_feedback_total', help: 'Feedback accepted, by rating and reason', labelNames: ['rating', 'reason'], registers: [registry] }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
