import { Link } from '../components/Link';
import { formatAgo, formatDurationNs, formatTimeNs, shortTraceId } from '../format';
import type { ResultRow } from './results';
import { serviceColor } from '../trace/colors';

/** One card per trace: what a user scans for the slow or failed one. */
export function ResultsList(props: {
  rows: ResultRow[];
  nowMs: number;
  maxDurationNs: number;
  /** Searches again for the traces that `policy` kept. */
  onPolicy: (policy: string) => void;
}) {
  return (
    <ol class="results" data-testid="results">
      {props.rows.map((r) => (
        <li key={r.traceId} class="result panel" data-testid="result" data-trace-id={r.traceId}>
          <Link href={`trace/${r.traceId}`} class="result-title">
            <span class="result-name">
              {r.rootService}: {r.rootOperation}
            </span>
            <span class="mono muted" data-testid="result-short-id">
              {shortTraceId(r.traceId)}
            </span>
          </Link>
          <div class="result-bar">
            <div
              class="bar"
              style={{
                width: `${props.maxDurationNs ? (100 * r.durationNs) / props.maxDurationNs : 0}%`,
              }}
            />
            <span class="result-duration" data-testid="result-duration">
              {formatDurationNs(r.durationNs)}
            </span>
          </div>
          <div class="result-meta">
            <span>
              {r.spanCount} span{r.spanCount === 1 ? '' : 's'}
            </span>
            {r.errorCount > 0 && (
              <span class="error-text" data-testid="result-errors">
                {r.errorCount} error{r.errorCount === 1 ? '' : 's'}
              </span>
            )}
            {r.samplingPolicy && (
              <button
                type="button"
                class="policy"
                data-testid="result-policy"
                title="The sampling policy that kept this trace: click for every trace it kept"
                onClick={() => props.onPolicy(r.samplingPolicy)}
              >
                kept by {r.samplingPolicy}
              </button>
            )}
            <span class="muted" title={formatTimeNs(r.startNs)}>
              {formatTimeNs(r.startNs)} ({formatAgo(r.startNs, props.nowMs)})
            </span>
          </div>
          <div class="result-services">
            {r.services.map((s) => (
              <span
                key={s.name}
                class={s.errorSpanCount > 0 ? 'svc has-error' : 'svc'}
                style={{ borderLeftColor: serviceColor(s.name) }}
              >
                {s.name} ({s.spanCount})
              </span>
            ))}
          </div>
        </li>
      ))}
    </ol>
  );
}
