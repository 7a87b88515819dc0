// The service map's model: services as nodes, the dependency links (api/dependencies) as edges,
// each service's whole-range server-span calls and error fraction (api/metrics) on its node.
//
// An edge carries the calls from its parent to its child and how many of them failed
// (api/dependencies' callCount and errorCount); a node, the requests the service served (its
// server spans) and their error rate.

import type { DependencyLink, MetricFamily } from '../api/types';
import { compareText } from './compare';
import { callsInWindow, formatCalls, formatErrorRate } from './red';
import { SERVICE_LABEL, lastValues } from './series';

/** A service's traffic over the range: its server spans, as the SPM API counts them. */
export interface ServiceStats {
  calls: number;
  /** Errors / calls in [0, 1]; NaN without calls. */
  errorFraction: number;
}

export interface GraphNode {
  service: string;
  /** Undefined when RED metrics are off. */
  stats?: ServiceStats;
}

export interface GraphEdge {
  parent: string;
  child: string;
  calls: number;
  failed: number;
}

export interface ServiceGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/**
 * Each service's stats from a whole-range summary query (range.ts summaryWindow) of `calls` and
 * `errors`, whose last point covers `lookbackMs`.
 */
export function serviceStats(
  calls: MetricFamily,
  errors: MetricFamily,
  lookbackMs: number,
): Map<string, ServiceStats> {
  const rates = lastValues(calls, SERVICE_LABEL);
  const fractions = lastValues(errors, SERVICE_LABEL);
  const out = new Map<string, ServiceStats>();
  for (const [service, rate] of rates) {
    const count = Number.isFinite(rate) ? callsInWindow(rate, lookbackMs) : 0;
    out.set(service, { calls: count, errorFraction: fractions.get(service) ?? NaN });
  }
  return out;
}

/**
 * The graph of `links` (duplicates of one parent → child summed; links without calls or without
 * a service name dropped) and of the services with calls in `stats`, even those without links.
 * `stats` is undefined when RED metrics are off; when they are on, a service it lacks served no
 * request in the range. Nodes are sorted by name, edges by parent then child, so the layout is
 * stable between loads.
 */
export function buildServiceGraph(
  links: DependencyLink[],
  stats: ReadonlyMap<string, ServiceStats> | undefined,
): ServiceGraph {
  const edgeCalls = new Map<string, GraphEdge>();
  for (const link of links) {
    if (!link.parent || !link.child || !(link.callCount > 0)) continue;
    const key = JSON.stringify([link.parent, link.child]);
    const edge = edgeCalls.get(key) ?? {
      parent: link.parent,
      child: link.child,
      calls: 0,
      failed: 0,
    };
    edge.calls += link.callCount;
    edge.failed += Math.min(link.errorCount ?? 0, link.callCount);
    edgeCalls.set(key, edge);
  }
  const edges = [...edgeCalls.values()].sort(
    (a, b) => compareText(a.parent, b.parent) || compareText(a.child, b.child),
  );

  const names = new Set<string>();
  for (const e of edges) names.add(e.parent).add(e.child);
  for (const [service, s] of stats ?? []) if (s.calls > 0) names.add(service);
  const nodes = [...names].sort(compareText).map((service) => nodeOf(service, stats));
  return { nodes, edges };
}

function nodeOf(service: string, stats: ReadonlyMap<string, ServiceStats> | undefined): GraphNode {
  if (!stats) return { service };
  return { service, stats: stats.get(service) ?? { calls: 0, errorFraction: NaN } };
}

/** The services of the store (api/v3/services) and of `links`, each once, sorted. */
export function knownServices(
  stored: readonly string[],
  links: readonly DependencyLink[],
): string[] {
  const names = new Set(stored.filter((s) => s !== ''));
  for (const link of links) {
    if (link.parent) names.add(link.parent);
    if (link.child) names.add(link.child);
  }
  return [...names].sort(compareText);
}

/**
 * A node's lines of text: its name, then the requests it served in the range and their error
 * rate, when RED metrics are on. "no server spans" rather than "0 calls" under a service that
 * arrows point to: those calls reached it as other kinds of span (e.g. consumer spans).
 */
export function nodeLines(node: GraphNode): string[] {
  if (!node.stats) return [node.service];
  const { calls, errorFraction } = node.stats;
  if (calls === 0) return [node.service, 'no server spans'];
  const count = formatCalls(calls);
  if (Number.isNaN(errorFraction)) return [node.service, count];
  return [node.service, `${count} · ${formatErrorRate(errorFraction)} errors`];
}

/** An edge's label: the calls from its parent to its child, and the failed share if any. */
export function edgeLabel(edge: GraphEdge): string {
  const calls = formatCalls(edge.calls);
  if (edge.failed === 0) return calls;
  return `${calls} · ${formatErrorRate(edge.failed / edge.calls)} failed`;
}
