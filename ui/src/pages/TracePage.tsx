// The trace page, trace/{traceId}?view=waterfall|flame|json&span={spanId}: loads the trace and
// shows it (trace/TraceView.tsx), or says in words why it cannot.

import { useEffect, useState } from 'preact/hooks';
import { fetchTrace } from '../api/client';
import type { OtlpTraceResponse } from '../api/types';
import { ErrorMessage, Loading } from '../components/Message';
import { shortTraceId } from '../format';
import { buildTraceModel, type TraceModel } from '../trace/model';
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

type Load =
  | { state: 'loading' }
  | { state: 'failed'; error: unknown }
  | { state: 'done'; response: OtlpTraceResponse; model: TraceModel };

function LoadedTrace(props: { traceId: string; params: URLSearchParams }) {
  const load = useTrace(props.traceId);
  if (load.state === 'loading') return <Loading what={`trace ${shortTraceId(props.traceId)}`} />;
  if (load.state === 'failed') return <ErrorMessage error={load.error} />;
  if (load.model.spans.length === 0) {
    return <ErrorMessage error={new Error(`The trace ${props.traceId} has no spans.`)} />;
  }
  return (
    <TraceView
      traceId={props.traceId}
      params={props.params}
      model={load.model}
      response={load.response}
    />
  );
}

function useTrace(traceId: string): Load {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  useEffect(() => {
    let current = true;
    fetchTrace(traceId).then(
      (response) => {
        if (!current) return;
        setLoad({ state: 'done', response, model: buildTraceModel(response, traceId) });
      },
      (error: unknown) => {
        if (current) setLoad({ state: 'failed', error });
      },
    );
    return () => {
      current = false;
    };
  }, [traceId]);
  return load;
}
