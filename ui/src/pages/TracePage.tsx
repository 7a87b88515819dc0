// The trace page, trace/{traceId}?view=waterfall|flame|json&span={spanId}: loads the trace and
// shows it (trace/TraceView.tsx), or says in words why it cannot.

import { fetchTrace } from '../api/client';
import { ErrorMessage, Loading } from '../components/Message';
import { useAsync } from '../hooks/useAsync';
import { shortTraceId } from '../format';
import { buildTraceModel } from '../trace/model';
import { TraceView } from '../trace/TraceView';
import { isTraceId } from '../trace/url';

export function TracePage(props: { traceId: string; params: URLSearchParams }) {
  if (!isTraceId(props.traceId)) {
    const error = new Error(
      `“${props.traceId}” is not a trace ID: a trace ID is 1 to 32 hexadecimal digits ` +
        '(0-9, a-f).',
    );
    return <ErrorMessage error={error} />;
  }
  // Keyed: another trace starts with a fresh page (zoom, collapsed spans, search).
  return <LoadedTrace key={props.traceId} traceId={props.traceId} params={props.params} />;
}

function LoadedTrace(props: { traceId: string; params: URLSearchParams }) {
  const load = useAsync(
    () =>
      fetchTrace(props.traceId).then((response) => ({
        response,
        model: buildTraceModel(response, props.traceId),
      })),
    [props.traceId],
  );
  if (load.status === 'error') return <ErrorMessage error={load.error} />;
  if (load.status !== 'done') {
    return <Loading what={`trace ${shortTraceId(props.traceId)}`} />;
  }
  const { model, response } = load.value;
  if (model.spans.length === 0) {
    return <ErrorMessage error={new Error(`The trace ${props.traceId} has no spans.`)} />;
  }
  return (
    <TraceView traceId={props.traceId} params={props.params} model={model} response={response} />
  );
}
