import { describe, expect, it } from 'vitest';
import { edgeLabel, nodeLines, type ServiceGraph } from '../src/services/graph';
import { NODE_HEIGHT, layoutServiceGraph, smoothPath, textWidth } from '../src/services/layout';

describe('smoothPath', () => {
  it('is a straight line between two points', () => {
    expect(
      smoothPath([
        { x: 0, y: 0 },
        { x: 10.123, y: 5 },
      ]),
    ).toBe('M0,0 L10.12,5');
  });

  it('curves through the midpoints with inner points as controls', () => {
    const points = [
      { x: 0, y: 0 },
      { x: 10, y: 0 },
      { x: 20, y: 10 },
      { x: 30, y: 10 },
    ];
    expect(smoothPath(points)).toBe('M0,0 Q10,0 15,5 Q20,10 25,10 L30,10');
  });

  it('is empty without points', () => {
    expect(smoothPath([])).toBe('');
    expect(smoothPath([{ x: 1, y: 2 }])).toBe('M1,2');
  });
});

describe('textWidth', () => {
  it('estimates 7.5 px a character, rounded up', () => {
    expect(textWidth('abc')).toBe(23);
    expect(textWidth('')).toBe(0);
  });
});

describe('layoutServiceGraph', () => {
  const graph: ServiceGraph = {
    nodes: [
      { service: 'checkout' },
      { service: 'frontend', stats: { calls: 1520, errorFraction: 0.01 } },
      { service: 'inventory' },
      { service: 'a-service-with-a-very-long-name' },
    ],
    edges: [
      { parent: 'checkout', child: 'inventory', calls: 40, failed: 0 },
      { parent: 'frontend', child: 'checkout', calls: 1520, failed: 0 },
    ],
  };
  const layout = layoutServiceGraph(graph, nodeLines, edgeLabel);
  const node = (s: string) => layout.nodes.find((n) => n.service === s)!;

  it('places callers left of the services they call', () => {
    expect(node('frontend').x).toBeLessThan(node('checkout').x);
    expect(node('checkout').x).toBeLessThan(node('inventory').x);
  });

  it('sizes boxes for their text, at least 110 px wide', () => {
    expect(node('checkout').width).toBe(110);
    // "1,520 calls · 1% errors" is 23 characters: 173 px + 2 × 16 px padding.
    expect(node('frontend').width).toBe(205);
    expect(node('a-service-with-a-very-long-name').width).toBe(Math.ceil(31 * 7.5) + 32);
    for (const n of layout.nodes) expect(n.height).toBe(NODE_HEIGHT);
  });

  it('keeps every box and label inside the drawing', () => {
    for (const n of layout.nodes) {
      expect(n.x - n.width / 2).toBeGreaterThanOrEqual(0);
      expect(n.x + n.width / 2).toBeLessThanOrEqual(layout.width);
      expect(n.y - n.height / 2).toBeGreaterThanOrEqual(0);
      expect(n.y + n.height / 2).toBeLessThanOrEqual(layout.height);
    }
  });

  it("runs each edge from its parent's box to its child's, label in between", () => {
    for (const e of layout.edges) {
      const parent = node(e.parent);
      const child = node(e.child);
      const start = /^M([\d.]+),/.exec(e.path);
      const end = /L([\d.]+),[\d.]+$/.exec(e.path);
      expect(Number(start?.[1])).toBeCloseTo(parent.x + parent.width / 2, 1);
      expect(Number(end?.[1])).toBeCloseTo(child.x - child.width / 2, 1);
      expect(e.label.x).toBeGreaterThan(parent.x + parent.width / 2);
      expect(e.label.x).toBeLessThan(child.x - child.width / 2);
    }
    expect(layout.edges.map((e) => [e.parent, e.child, e.calls])).toEqual([
      ['checkout', 'inventory', 40],
      ['frontend', 'checkout', 1520],
    ]);
  });
});
