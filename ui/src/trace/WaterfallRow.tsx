// One span of the waterfall: the tree column (toggle, service, operation, marks) and the
// timeline column (the bar, its critical-path sections, its duration).

import { formatDurationNs } from '../format';
import type { CriticalSegment } from './critical_path';
import { extentIn, percent, type TimeWindow } from './layout';
import type { TraceSpan } from './model';
import { useServiceColor } from './ServiceColors';
import { spanTimingText } from './timing';
import { spanKindName } from './values';

/** Indentation per level, up to a depth past which rows stop moving right (the depth is shown). */
const INDENT_PX = 14;
const MAX_INDENT_DEPTH = 24;

export interface RowProps {
  span: TraceSpan;
  top: number;
  height: number;
  zoom: TimeWindow;
  critical: CriticalSegment[];
  collapsed: boolean;
  selected: boolean;
  /** Whether the span matches the search; undefined when nothing is searched. */
  match: boolean | undefined;
  onSelect: (span: number) => void;
  onToggle: (span: number) => void;
}

export function WaterfallRow(props: RowProps) {
  const s = props.span;
  const color = useServiceColor()(s.service);
  const classes = ['wf-row'];
  if (props.selected) classes.push('selected');
  if (props.match === true) classes.push('match');
  if (props.match === false) classes.push('dimmed');
  return (
    <div
      class={classes.join(' ')}
      style={{ top: `${props.top}px`, height: `${props.height}px` }}
      data-testid="span-row"
      data-span-id={s.spanId}
      data-depth={s.depth}
      data-service={s.service}
      data-critical={props.critical.length > 0 ? 'true' : undefined}
      data-error={s.isError ? 'true' : undefined}
      title={spanTimingText(s, props.critical)}
      tabIndex={0}
      onClick={() => props.onSelect(s.index)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') props.onSelect(s.index);
      }}
    >
      <SpanLabel {...props} color={color} />
      <SpanBar span={s} zoom={props.zoom} critical={props.critical} color={color} />
    </div>
  );
}

function SpanLabel(props: RowProps & { color: string }) {
  const s = props.span;
  const indent = Math.min(s.depth, MAX_INDENT_DEPTH) * INDENT_PX;
  return (
    <div class="wf-label" style={{ paddingLeft: `${indent + 4}px` }}>
      {s.children.length > 0 ? (
        <button
          type="button"
          class="wf-toggle"
          data-testid="span-toggle"
          aria-expanded={!props.collapsed}
          aria-label={`${props.collapsed ? 'Expand' : 'Collapse'} ${s.name}`}
          onClick={(e) => {
            e.stopPropagation();
            props.onToggle(s.index);
          }}
        >
          {props.collapsed ? '▸' : '▾'}
        </button>
      ) : (
        <span class="wf-toggle-space" />
      )}
      <span class="swatch" style={{ background: props.color }} />
      {s.depth > MAX_INDENT_DEPTH && <span class="wf-badge">L{s.depth}</span>}
      <span class="wf-service">{s.service}</span>
      <span class="wf-name">{s.name}</span>
      {s.isError && (
        <span class="wf-error" title={`error${s.statusMessage ? `: ${s.statusMessage}` : ''}`}>
          !
        </span>
      )}
      {s.kind !== 0 && <span class="wf-badge">{spanKindName(s.kind)}</span>}
      {s.orphan && <span class="wf-badge warn">orphan</span>}
      {props.collapsed && <span class="wf-badge">+{s.descendants}</span>}
    </div>
  );
}

interface BarProps {
  span: TraceSpan;
  zoom: TimeWindow;
  critical: CriticalSegment[];
  color: string;
}

function SpanBar(props: BarProps) {
  const s = props.span;
  const extent = extentIn(s.start, s.end, props.zoom);
  if (!extent) return <div class="wf-timeline" />;
  const label = durationPlace(extent.left, extent.left + extent.width);
  return (
    <div class="wf-timeline">
      <div
        class={s.isError ? 'wf-bar error' : 'wf-bar'}
        style={{
          left: percent(extent.left),
          width: percent(extent.width),
          background: props.color,
        }}
      />
      {props.critical.map((seg) => {
        const part = extentIn(seg.start, seg.end, props.zoom);
        return (
          part && (
            <div
              key={seg.start}
              class="wf-critical"
              style={{ left: percent(part.left), width: percent(part.width) }}
            />
          )
        );
      })}
      <span class={label.inside ? 'wf-duration inside' : 'wf-duration'} style={label.style}>
        {formatDurationNs(s.duration)}
      </span>
    </div>
  );
}

/**
 * Where a bar's duration goes: right of the bar when there is room, else left of it, else (a bar
 * across nearly the whole window) inside its right end.
 */
interface LabelPlace {
  style: { left?: string; right?: string };
  inside: boolean;
}

function durationPlace(left: number, right: number): LabelPlace {
  if (right < 0.85) return { style: { left: `calc(${percent(right)} + 4px)` }, inside: false };
  if (left > 0.15) return { style: { right: `calc(${percent(1 - left)} + 4px)` }, inside: false };
  return { style: { right: `calc(${percent(1 - right)} + 4px)` }, inside: true };
}
