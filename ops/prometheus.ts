/**
 * Domain metrics in the Prometheus text exposition format (version 0.0.4), which Prometheus,
 * the OpenTelemetry Collector's Prometheus receiver and most other scrapers read.
 *
 * @module
 */

import type { Domain, DomainSnapshot } from "../zero_copy/mod.ts";
import { socketDomain } from "../zero_copy/_default.ts";

/** The content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string | number>;

interface Family {
  help: string;
  type: "gauge" | "counter";
  samples: [Labels, number][];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * The metrics of one or more snapshots (from `Domain.metrics()` or an `Inspector`) in the
 * Prometheus text format. Every sample carries a `domain` label; channels carry their slot,
 * service and direction; pools their buffer size.
 *
 * Metrics: `xio_domain_size_bytes`, `xio_nodes{state="alive"|"dead"}`, `xio_services`,
 * `xio_channels{state}`, `xio_channel_messages_total`, `xio_channel_bytes_total`,
 * `xio_channel_queued` (ring fill), `xio_pool_buffers{state="free"|"held"|"in_flight"|
 * "held_by_dead"|"invalid"}`, `xio_pool_allocations_total`, `xio_corrupt_descriptors_total`,
 * `xio_nodes_reclaimed_total` and `xio_channels_opened_total`.
 */
export function prometheus(snapshots: DomainSnapshot | readonly DomainSnapshot[]): string {
  const list: readonly DomainSnapshot[] = Array.isArray(snapshots)
    ? snapshots
    : [snapshots as DomainSnapshot];
  const families = new Map<string, Family>();
  const add = (name: string, type: Family["type"], help: string, labels: Labels, value: number) => {
    let family = families.get(name);
    if (family === undefined) {
      family = { help, type, samples: [] };
      families.set(name, family);
    }
    family.samples.push([labels, value]);
  };
  for (const s of list) {
    const domain = s.name;
    add("xio_domain_size_bytes", "gauge", "Size of the domain's shared memory.", {
      domain,
      backing: s.backing,
    }, s.size);
    const alive = s.nodes.filter((n) => n.alive).length;
    add("xio_nodes", "gauge", "Processes attached to the domain.", { domain, state: "alive" }, alive);
    add(
      "xio_nodes",
      "gauge",
      "Processes attached to the domain.",
      { domain, state: "dead" },
      s.nodes.length - alive,
    );
    add("xio_services", "gauge", "Services registered in the domain.", { domain }, s.services.length);
    const states = new Map<string, number>();
    for (const c of s.channels) states.set(c.state, (states.get(c.state) ?? 0) + 1);
    for (const state of ["connecting", "open", "half-closed", "closing", "reset", "corrupt"]) {
      add("xio_channels", "gauge", "Channels in use, by state.", { domain, state }, states.get(state) ?? 0);
    }
    for (const c of s.channels) {
      const base = { domain, channel: c.index, service: c.service ?? "" };
      for (const [direction, traffic] of [["to_server", c.toServer], ["to_client", c.toClient]] as const) {
        const labels = { ...base, direction };
        add(
          "xio_channel_messages_total",
          "counter",
          "Messages sent on the channel.",
          labels,
          traffic.messages,
        );
        add(
          "xio_channel_bytes_total",
          "counter",
          "Payload bytes sent on the channel.",
          labels,
          traffic.bytes,
        );
        add("xio_channel_queued", "gauge", "Messages sent and not yet received.", labels, traffic.queued);
      }
    }
    for (const k of s.classes) {
      const size = k.size;
      for (
        const [state, value] of [
          ["free", k.free],
          ["held", k.held],
          ["in_flight", k.inFlight],
          ["held_by_dead", k.heldByDead],
          ["invalid", k.invalid],
        ] as const
      ) {
        add(
          "xio_pool_buffers",
          "gauge",
          "Shared buffers, by size class and state.",
          { domain, size, state },
          value,
        );
      }
      add("xio_pool_allocations_total", "counter", "Buffer allocations.", { domain, size }, k.allocations);
    }
    add(
      "xio_corrupt_descriptors_total",
      "counter",
      "Descriptors that failed validation.",
      { domain },
      s.corruptDescriptors,
    );
    add("xio_nodes_reclaimed_total", "counter", "Dead processes reclaimed.", { domain }, s.reclaimedNodes);
    add("xio_channels_opened_total", "counter", "Channels opened.", { domain }, s.channelsOpened);
  }
  const lines: string[] = [];
  for (const [name, family] of families) {
    lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
    for (const [labels, value] of family.samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",");
      lines.push(`${name}{${text}} ${formatValue(value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A `Response` with the metrics of `domain` (default: the default domain of `serve`). */
export function metricsResponse(domain?: Domain | string): Response {
  const snapshot = socketDomain(domain).metrics();
  return new Response(prometheus(snapshot), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
}

/** Options of {@linkcode withMetrics}. */
export interface MetricsRouteOptions {
  /** The route (default `"/metrics"`). */
  path?: string;
  /** The domain whose metrics to serve (default: the default domain of `serve`). */
  domain?: Domain | string;
}

/**
 * Wraps a fetch handler so that `GET <path>` (default `/metrics`) answers with the domain's
 * metrics and everything else goes to `handler`. For `serve`, `Deno.serve`, `Bun.serve` or any
 * framework's fetch.
 *
 * @example
 * ```ts ignore
 * import { serve } from "@xio/core/http";
 * import { withMetrics } from "@xio/core/ops";
 *
 * serve({ service: "orders" }, withMetrics((request) => new Response("ok")));
 * ```
 */
export function withMetrics<A extends unknown[], R>(
  handler: (request: Request, ...rest: A) => R,
  options: MetricsRouteOptions = {},
): (request: Request, ...rest: A) => R | Response {
  const path = options.path ?? "/metrics";
  return (request: Request, ...rest: A) => {
    if (request.method === "GET" || request.method === "HEAD") {
      const url = request.url;
      const start = url.indexOf("/", url.indexOf("//") + 2);
      const end = url.indexOf("?", start);
      const pathname = start < 0 ? "/" : url.slice(start, end < 0 ? undefined : end);
      if (pathname === path) return metricsResponse(options.domain);
    }
    return handler(request, ...rest);
  };
}
