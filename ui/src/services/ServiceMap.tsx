// The service map: an SVG of the dagre layout, services as boxes, calls as arrows.

import { useMemo } from 'preact/hooks';
import { edgeLabel, nodeLines, type ServiceGraph } from './graph';
import { layoutServiceGraph, type PlacedEdge, type PlacedNode } from './layout';

const ARROW_ID = 'service-map-arrow';
const MIN_SCALE = 0.6;

interface ServiceMapProps {
  graph: ServiceGraph;
  selected?: string;
  onSelect: (service: string) => void;
  /** "the last hour", for the edges' tooltips. */
  rangePhrase: string;
}

export function ServiceMap(props: ServiceMapProps) {
  const layout = useMemo(
    () => layoutServiceGraph(props.graph, nodeLines, edgeLabel),
    [props.graph],
  );
  return (
    <div class="service-map-scroll">
      <svg
        data-testid="service-map"
        class="service-map"
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        // Shrinks to fit a narrow window, but not below 60 % (the text would be unreadable): a
        // larger map scrolls instead.
        style={{ minWidth: `${Math.ceil(layout.width * MIN_SCALE)}px` }}
        role="group"
        aria-label="Service map"
      >
        <defs>
          <marker
            id={ARROW_ID}
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto"
          >
            <path d="M0,0 L10,5 L0,10 z" />
          </marker>
        </defs>
        {layout.edges.map((edge) => (
          <MapEdge
            key={`${edge.parent}\n${edge.child}`}
            edge={edge}
            rangePhrase={props.rangePhrase}
          />
        ))}
        {layout.nodes.map((node) => (
          <MapNode
            key={node.service}
            node={node}
            selected={node.service === props.selected}
            onSelect={props.onSelect}
          />
        ))}
      </svg>
    </div>
  );
}

function MapEdge(props: { edge: PlacedEdge; rangePhrase: string }) {
  const { edge } = props;
  const label = edgeLabel(edge);
  return (
    <g
      data-testid="service-edge"
      data-parent={edge.parent}
      data-child={edge.child}
      data-calls={edge.calls}
      data-failed={edge.failed}
      class={edge.failed > 0 ? 'service-edge failed' : 'service-edge'}
    >
      <title>{`${edge.parent} → ${edge.child}: ${label} in ${props.rangePhrase}`}</title>
      <path d={edge.path} marker-end={`url(#${ARROW_ID})`} />
      <text x={edge.label.x} y={edge.label.y} text-anchor="middle" dominant-baseline="central">
        {label}
      </text>
    </g>
  );
}

function MapNode(props: { node: PlacedNode; selected: boolean; onSelect: (s: string) => void }) {
  const { node } = props;
  const [name, stats] = nodeLines(node);
  const select = () => props.onSelect(node.service);
  const failing = (node.stats?.errorFraction ?? 0) > 0;
  const classes = ['service-node', props.selected && 'selected', failing && 'failing'];
  return (
    <g
      data-testid="service-node"
      data-service={node.service}
      class={classes.filter(Boolean).join(' ')}
      transform={`translate(${node.x - node.width / 2},${node.y - node.height / 2})`}
      role="button"
      tabIndex={0}
      aria-pressed={props.selected}
      aria-label={[name, stats].filter(Boolean).join(', ')}
      onClick={select}
      onKeyDown={(e) => {
        if (e.key !== 'Enter' && e.key !== ' ') return;
        e.preventDefault();
        select();
      }}
    >
      <rect width={node.width} height={node.height} rx={6} />
      <text class="name" x={node.width / 2} y={stats ? 17 : node.height / 2}>
        {name}
      </text>
      {stats && (
        <text class="stats" x={node.width / 2} y={33}>
          {stats}
        </text>
      )}
    </g>
  );
}
