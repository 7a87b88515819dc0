// The service map's geometry: dagre lays the graph out left to right (callers left of the
// services they call); this module turns its answer into boxes, edge paths and label positions
// for an SVG. Text widths are estimated from character counts, so the layout needs no DOM.

import * as dagre from '@dagrejs/dagre';
import type { GraphEdge, GraphNode, ServiceGraph } from './graph';

export interface Point {
  x: number;
  y: number;
}

export interface PlacedNode extends GraphNode {
  /** Centre of the box. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge extends GraphEdge {
  /** The line from the parent's box to the child's, for an SVG path's `d`. */
  path: string;
  /** Centre of the edge's label. */
  label: Point;
}

export interface MapLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

/** An average character's width at the map's font sizes (12-13 px system-ui), in px. */
const CHAR_WIDTH = 7.5;
const NODE_PADDING_X = 16;
const NODE_MIN_WIDTH = 110;
export const NODE_HEIGHT = 44;
const EDGE_LABEL_HEIGHT = 16;
const MARGIN = 16;

export function textWidth(text: string): number {
  return Math.ceil(text.length * CHAR_WIDTH);
}

/**
 * Lays out `graph`. `nodeText` gives each node's lines of text and `edgeText` each edge's label,
 * so that boxes and label gaps are wide enough for them.
 */
export function layoutServiceGraph(
  graph: ServiceGraph,
  nodeText: (node: GraphNode) => string[],
  edgeText: (edge: GraphEdge) => string,
): MapLayout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 28, ranksep: 90, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) {
    const widest = Math.max(0, ...nodeText(node).map(textWidth));
    const width = Math.max(NODE_MIN_WIDTH, widest + 2 * NODE_PADDING_X);
    g.setNode(node.service, { width, height: NODE_HEIGHT });
  }
  for (const edge of graph.edges) {
    const size = { width: textWidth(edgeText(edge)), height: EDGE_LABEL_HEIGHT, labelpos: 'c' };
    g.setEdge(edge.parent, edge.child, size);
  }
  dagre.layout(g);

  const nodes = graph.nodes.map((node) => {
    const { x, y, width, height } = g.node(node.service);
    return { ...node, x, y, width, height };
  });
  const edges = graph.edges.map((edge) => {
    const placed = g.edge(edge.parent, edge.child);
    return { ...edge, path: smoothPath(placed.points), label: { x: placed.x, y: placed.y } };
  });
  const { width = 0, height = 0 } = g.graph();
  return { width, height, nodes, edges };
}

/**
 * An SVG path through `points`: straight for two points; for more, a quadratic curve through
 * the midpoints, with each inner point as a control point, so bends are round and the path
 * still starts and ends exactly at the boxes' borders (where the arrowhead goes).
 */
export function smoothPath(points: Point[]): string {
  if (points.length === 0) return '';
  const f = (p: Point) => `${round(p.x)},${round(p.y)}`;
  let d = `M${f(points[0])}`;
  for (let i = 1; i < points.length - 1; i++) {
    d += ` Q${f(points[i])} ${f(midpoint(points[i], points[i + 1]))}`;
  }
  if (points.length > 1) d += ` L${f(points[points.length - 1])}`;
  return d;
}

function midpoint(a: Point, b: Point): Point {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
}

/** Two decimals: enough for a screen, and paths stay short. */
function round(v: number): number {
  return Math.round(v * 100) / 100;
}
