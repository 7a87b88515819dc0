// The details of the selected span: what it is, its timing, IDs, attributes, resource, scope,
// events and links.

import type { ComponentChildren } from 'preact';
import type { OtlpEvent, OtlpLink } from '../api/types';
import { Link } from '../components/Link';
import { formatDurationNs, formatTimeNs } from '../format';
import { AttributeTable } from './AttributeTable';
import { CopyButton } from './CopyButton';
import { criticalTimeOf, type CriticalPath } from './critical_path';
import { absoluteNs, relativeNs, type TraceModel, type TraceSpan } from './model';
import { useServiceColor } from './ServiceColors';
import { traceHref } from './url';
import { spanKindName, statusCodeName } from './values';

interface Props {
  model: TraceModel;
  span: number;
  path: CriticalPath;
  onSelect: (span: number) => void;
  onClose: () => void;
}

export function SpanDetails(props: Props) {
  const { model } = props;
  const s = model.spans[props.span];
  const colorOf = useServiceColor();
  return (
    <aside class="span-details" data-testid="span-details" aria-label="Span details">
      <header class="span-details-head">
        <span class="swatch" style={{ background: colorOf(s.service) }} />
        <div class="span-details-title">
          <div class="span-details-service">{s.service}</div>
          <h2>{s.name}</h2>
        </div>
        <button type="button" class="close" aria-label="Close span details" onClick={props.onClose}>
          ×
        </button>
      </header>
      <dl class="facts">
        <Fact label="Kind">{spanKindName(s.kind)}</Fact>
        <Fact label="Status">
          <span class={s.isError ? 'error-text' : ''}>{statusCodeName(s.statusCode)}</span>
          {s.statusMessage && <span>: {s.statusMessage}</span>}
        </Fact>
        <Fact label="Start">
          +{formatDurationNs(s.start)}{' '}
          <span class="muted">({formatTimeNs(absoluteNs(model, s.start))})</span>
        </Fact>
        <Fact label="Duration">{formatDurationNs(s.duration)}</Fact>
        <Fact label="Critical path">{criticalText(props.path, s)}</Fact>
        <Fact label="Span ID">
          <span class="mono">{s.spanId}</span> <CopyButton text={s.spanId} label="Copy span ID" />
          {s.duplicateId && <div class="error-text">Another span of this trace has this ID.</div>}
        </Fact>
        <Fact label="Parent ID">
          <ParentId model={model} span={s} onSelect={props.onSelect} />
        </Fact>
        {s.traceState && <Fact label="Trace state">{s.traceState}</Fact>}
        <Fact label="Scope">
          {s.scope.name || <span class="muted">(none)</span>}
          {s.scope.version && <span class="muted"> {s.scope.version}</span>}
        </Fact>
      </dl>
      <Section title="Attributes" count={s.attributes.length}>
        <AttributeTable attributes={s.attributes} />
      </Section>
      <Section title="Resource attributes" count={s.resource.length}>
        <AttributeTable attributes={s.resource} />
      </Section>
      <Section title="Events" count={s.events.length}>
        {s.events.map((e, i) => (
          <SpanEvent key={i} event={e} offset={relativeNs(model, e.timeUnixNano) - s.start} />
        ))}
      </Section>
      <Section title="Links" count={s.links.length}>
        {s.links.map((l, i) => (
          <SpanLink key={i} link={l} />
        ))}
      </Section>
    </aside>
  );
}

function Fact(props: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </>
  );
}

function Section(props: { title: string; count: number; children: ComponentChildren }) {
  return (
    <section class="span-details-section">
      <h3>
        {props.title} <span class="muted">({props.count})</span>
      </h3>
      {props.count === 0 ? <p class="muted attr-empty">None.</p> : props.children}
    </section>
  );
}

function criticalText(path: CriticalPath, s: TraceSpan): string {
  const time = criticalTimeOf(path, s.index);
  if (time === 0) return 'not on it';
  const share = s.duration > 0 ? ` (${Math.round((time / s.duration) * 100)}% of the span)` : '';
  return `${formatDurationNs(time)}${share}`;
}

function ParentId(props: { model: TraceModel; span: TraceSpan; onSelect: (span: number) => void }) {
  const { span } = props;
  if (span.parentSpanId === '') return <span class="muted">none (a root span)</span>;
  if (span.parent < 0) {
    return (
      <>
        <span class="mono">{span.parentSpanId}</span>{' '}
        <span class="muted">(not in this trace: an orphan)</span>
      </>
    );
  }
  return (
    <button type="button" class="link-button mono" onClick={() => props.onSelect(span.parent)}>
      {span.parentSpanId}
    </button>
  );
}

function SpanEvent(props: { event: OtlpEvent; offset: number }) {
  const attributes = props.event.attributes ?? [];
  return (
    <div class="span-event">
      <div class="span-event-head">
        <span class="mono">+{formatDurationNs(props.offset)}</span>{' '}
        <strong>{props.event.name}</strong>
      </div>
      {attributes.length > 0 && <AttributeTable attributes={attributes} />}
    </div>
  );
}

function SpanLink(props: { link: OtlpLink }) {
  const { link } = props;
  const href = traceHref(link.traceId, new URLSearchParams(), { span: link.spanId });
  return (
    <div class="span-link">
      <div>
        Trace <Link href={href}>{link.traceId}</Link>
      </div>
      <div>
        Span <span class="mono">{link.spanId}</span>
      </div>
      {link.traceState && <div>Trace state {link.traceState}</div>}
      {(link.attributes ?? []).length > 0 && <AttributeTable attributes={link.attributes ?? []} />}
    </div>
  );
}
