import { describe, expect, it } from 'vitest';
import {
  buildServiceGraph,
  edgeLabel,
  knownServices,
  nodeLines,
  serviceStats,
  type ServiceStats,
} from '../src/services/graph';
import { summary } from './services_fixtures';

const HOUR = 3_600_000;

describe('serviceStats', () => {
  it('turns whole-range rates into call counts, with their error fractions', () => {
    const calls = summary('service_call_rate', { cart: 0.5, pay: 1 / 3600, idle: 0, new: 'NaN' });
    const errors = summary('service_error_rate', { cart: 0.25, pay: 0, idle: 'NaN' });
    const stats = serviceStats(calls, errors, HOUR);
    expect([...stats.keys()]).toEqual(['cart', 'pay', 'idle', 'new']);
    expect(stats.get('cart')).toEqual({ calls: 1800, errorFraction: 0.25 });
    expect(stats.get('pay')).toEqual({ calls: 1, errorFraction: 0 });
    expect(stats.get('idle')).toEqual({ calls: 0, errorFraction: NaN });
    // No errors series for it, and a NaN rate: no calls.
    expect(stats.get('new')).toEqual({ calls: 0, errorFraction: NaN });
  });
});

describe('buildServiceGraph', () => {
  it('makes a node per service and an edge per link, sorted', () => {
    const graph = buildServiceGraph(
      [
        { parent: 'frontend', child: 'checkout', callCount: 1520, errorCount: 0 },
        { parent: 'checkout', child: 'inventory', callCount: 7, errorCount: 2 },
      ],
      undefined,
    );
    expect(graph).toEqual({
      nodes: [{ service: 'checkout' }, { service: 'frontend' }, { service: 'inventory' }],
      edges: [
        { parent: 'checkout', child: 'inventory', calls: 7, failed: 2 },
        { parent: 'frontend', child: 'checkout', calls: 1520, failed: 0 },
      ],
    });
  });

  it('sums duplicate links and drops links without calls or names', () => {
    const graph = buildServiceGraph(
      [
        { parent: 'a', child: 'b', callCount: 2, errorCount: 1 },
        { parent: 'a', child: 'b', callCount: 3, errorCount: 9 }, // more failed than calls: capped
        { parent: 'b', child: 'a', callCount: 1 }, // an older daemon: no errorCount
        { parent: 'a', child: 'c', callCount: 0 },
        { parent: '', child: 'd', callCount: 4 },
      ],
      undefined,
    );
    expect(graph.edges).toEqual([
      { parent: 'a', child: 'b', calls: 5, failed: 4 },
      { parent: 'b', child: 'a', calls: 1, failed: 0 },
    ]);
    expect(graph.nodes.map((n) => n.service)).toEqual(['a', 'b']);
  });

  it('adds services with calls but no links, and puts stats on every node', () => {
    const stats = new Map<string, ServiceStats>([
      ['b', { calls: 10, errorFraction: 0.1 }],
      ['lonely', { calls: 3, errorFraction: 0 }],
      ['quiet', { calls: 0, errorFraction: NaN }],
    ]);
    const graph = buildServiceGraph([{ parent: 'a', child: 'b', callCount: 4 }], stats);
    expect(graph.nodes).toEqual([
      // Metrics are on: a service without a series served no request.
      { service: 'a', stats: { calls: 0, errorFraction: NaN } },
      { service: 'b', stats: { calls: 10, errorFraction: 0.1 } },
      { service: 'lonely', stats: { calls: 3, errorFraction: 0 } },
    ]);
  });

  it('is empty without links or calls', () => {
    expect(buildServiceGraph([], undefined)).toEqual({ nodes: [], edges: [] });
    expect(buildServiceGraph([], new Map())).toEqual({ nodes: [], edges: [] });
  });
});

describe('knownServices', () => {
  it('merges stored services and link endpoints, once each, sorted', () => {
    const links = [
      { parent: 'web', child: 'api', callCount: 1 },
      { parent: 'api', child: 'db', callCount: 1 },
    ];
    expect(knownServices(['zeta', 'api', ''], links)).toEqual(['api', 'db', 'web', 'zeta']);
  });
});

describe('map text', () => {
  it("shows a node's calls and error rate under its name", () => {
    expect(nodeLines({ service: 'cart', stats: { calls: 1800, errorFraction: 0.25 } })).toEqual([
      'cart',
      '1,800 calls · 25% errors',
    ]);
    expect(nodeLines({ service: 'q', stats: { calls: 3, errorFraction: NaN } })).toEqual([
      'q',
      '3 calls',
    ]);
    expect(nodeLines({ service: 'db', stats: { calls: 0, errorFraction: NaN } })).toEqual([
      'db',
      'no server spans',
    ]);
    expect(nodeLines({ service: 'web' })).toEqual(['web']);
  });

  it('labels an edge with its calls and the failed share', () => {
    expect(edgeLabel({ parent: 'a', child: 'b', calls: 1, failed: 0 })).toBe('1 call');
    expect(edgeLabel({ parent: 'a', child: 'b', calls: 12345, failed: 0 })).toBe('12,345 calls');
    expect(edgeLabel({ parent: 'a', child: 'b', calls: 40, failed: 10 })).toBe(
      '40 calls · 25% failed',
    );
  });
});
