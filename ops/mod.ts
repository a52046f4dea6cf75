/**
 * Operations: what the `xio` command (`@xio/core/cli`) is built on, for services and tools of
 * their own. {@linkcode prometheus} formats snapshots (from `Domain.metrics()` or an
 * `Inspector`) in the Prometheus text format; {@linkcode withMetrics} and
 * {@linkcode metricsResponse} serve them on a route of a service's own `serve`, so that an
 * existing Prometheus or OpenTelemetry collector scrapes xio like anything else;
 * {@linkcode collect} is `xio gc`.
 *
 * @example Metrics on a route of the service itself
 * ```ts
 * import { Domain } from "@xio/core";
 * import { withMetrics } from "@xio/core/ops";
 * import assert from "node:assert/strict";
 *
 * using domain = Domain.open({ name: "metrics-example" });
 * const handler = withMetrics(() => new Response("hello"), { domain });
 * const response = await handler(new Request("http://orders/metrics"));
 * assert.match(await response.text(), /^xio_nodes\{domain="metrics-example",state="alive"\} 1$/m);
 * ```
 *
 * @module
 */

export {
  metricsResponse,
  type MetricsRouteOptions,
  prometheus,
  PROMETHEUS_CONTENT_TYPE,
  withMetrics,
} from "./prometheus.ts";
export { collect, type CollectOptions, type CollectResult } from "./gc.ts";
export type { FindOptions } from "./_find.ts";
