// The trace's header: what the trace is (root service and operation), its ID, when it started,
// how long it took, how big it is, and its critical path per service.

import { formatDurationNs, formatTimeNs } from '../format';
import { CopyButton } from './CopyButton';
import { shareText, type CriticalPath } from './critical_path';
import { absoluteNs, type TraceModel } from './model';
import { useServiceColor } from './ServiceColors';

export function TraceHeader(props: { model: TraceModel; path: CriticalPath }) {
  const { model } = props;
  const root = model.spans[model.rootIndex];
  const colorOf = useServiceColor();
  return (
    <header class="trace-header" data-testid="trace-header">
      <h1>
        <span class="swatch" style={{ background: colorOf(root.service) }} />
        <span class="trace-root-service">{root.service}</span>
        <span class="trace-root-op">{root.name}</span>
      </h1>
      <div class="trace-id">
        Trace ID <span class="mono">{model.traceId}</span>{' '}
        <CopyButton text={model.traceId} label="Copy trace ID" />
      </div>
      <dl class="trace-facts">
        <Fact label="Start" value={formatTimeNs(absoluteNs(model, 0))} />
        <Fact label="Duration" value={formatDurationNs(model.duration)} />
        <Fact label="Spans" value={String(model.spans.length)} />
        <Fact label="Services" value={String(model.services.length)} />
        <Fact label="Errors" value={String(model.errorCount)} alert={model.errorCount > 0} />
        <Fact label="Depth" value={String(model.depth)} />
      </dl>
      <TraceWarnings model={model} />
      <CriticalPathSummary path={props.path} />
    </header>
  );
}

function Fact(props: { label: string; value: string; alert?: boolean }) {
  return (
    <div class="trace-fact">
      <dt>{props.label}</dt>
      <dd class={props.alert ? 'error-text' : ''}>{props.value}</dd>
    </div>
  );
}

function TraceWarnings(props: { model: TraceModel }) {
  const { orphanCount, duplicateIdCount, roots } = props.model;
  const notes: string[] = [];
  if (orphanCount > 0) {
    notes.push(`${have(orphanCount)} a parent that is not in the trace; shown at the top level.`);
  }
  if (duplicateIdCount > 0) notes.push(`${have(duplicateIdCount)} the ID of an earlier span.`);
  if (roots.length > 1) {
    notes.push(
      `The trace has ${roots.length} top-level spans; the critical path follows the longest root.`,
    );
  }
  if (notes.length === 0) return null;
  return (
    <ul class="trace-warnings" role="status">
      {notes.map((n) => (
        <li key={n}>{n}</li>
      ))}
    </ul>
  );
}

/** "1 span has", "3 spans have". */
function have(n: number): string {
  return n === 1 ? '1 span has' : `${n} spans have`;
}

/** "Critical path: 2.8s in inventory (90%), …" with each service's colour. */
function CriticalPathSummary(props: { path: CriticalPath }) {
  const services = props.path.services;
  const colorOf = useServiceColor();
  return (
    <p class="critical-summary" data-testid="critical-path-summary">
      <span class="critical-key" aria-hidden="true" />
      Critical path:{' '}
      {services.map((s, i) => (
        <span key={s.service} class="critical-entry">
          <span class="swatch small" style={{ background: colorOf(s.service) }} />
          {shareText(s)}
          {i < services.length - 1 ? ', ' : ''}
        </span>
      ))}
    </p>
  );
}
