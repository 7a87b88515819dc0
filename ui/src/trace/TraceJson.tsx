// The trace as the API returned it: OTLP JSON (GET api/v3/traces/{id}), shown and downloadable.

import { useMemo } from 'preact/hooks';
import type { OtlpTraceResponse } from '../api/types';

/** More than this many characters are not put on the page (the download has them all). */
const MAX_SHOWN_CHARS = 1_000_000;

export function TraceJson(props: { response: OtlpTraceResponse; traceId: string }) {
  const text = useMemo(() => traceJsonText(props.response), [props.response]);
  const truncated = text.length > MAX_SHOWN_CHARS;
  return (
    <div class="trace-json">
      <p class="trace-json-note muted">
        OTLP JSON as GET api/v3/traces/{props.traceId} returned it, {formatSize(text.length)}.
      </p>
      {truncated && (
        <div class="message warning" role="status">
          The JSON is {formatSize(text.length)}; the first {formatSize(MAX_SHOWN_CHARS)} are shown.
          Download JSON saves all of it.
        </div>
      )}
      <pre class="mono">{truncated ? text.slice(0, MAX_SHOWN_CHARS) : text}</pre>
    </div>
  );
}

function traceJsonText(response: OtlpTraceResponse): string {
  return JSON.stringify(response, null, 2);
}

/** Saves the trace's JSON as trace-{id}.json. */
export function downloadTraceJson(response: OtlpTraceResponse, traceId: string): void {
  const blob = new Blob([traceJsonText(response)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `trace-${traceId}.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Freed once the browser has surely started the download.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function formatSize(chars: number): string {
  if (chars < 1000) return `${chars} B`;
  if (chars < 1_000_000) return `${(chars / 1000).toFixed(1)} kB`;
  return `${(chars / 1_000_000).toFixed(1)} MB`;
}
