// The bar above the trace: the view switch, the search in the trace, and the JSON download.

import type { ComponentChildren } from 'preact';
import type { TraceViewName } from './url';

const VIEW_LABELS: Record<TraceViewName, string> = {
  waterfall: 'Waterfall',
  flame: 'Flame graph',
  json: 'JSON',
};

interface Props {
  view: TraceViewName;
  onView: (view: TraceViewName) => void;
  onDownload: () => void;
  /** The search box, when the view has one. */
  children?: ComponentChildren;
}

export function TraceToolbar(props: Props) {
  return (
    <div class="trace-toolbar">
      <div class="view-switch" role="group" aria-label="View">
        {(Object.keys(VIEW_LABELS) as TraceViewName[]).map((v) => (
          <button
            key={v}
            type="button"
            data-testid={`view-${v}`}
            aria-pressed={v === props.view}
            class={v === props.view ? 'active' : ''}
            onClick={() => v !== props.view && props.onView(v)}
          >
            {VIEW_LABELS[v]}
          </button>
        ))}
      </div>
      {props.children}
      <button type="button" class="trace-download" onClick={props.onDownload}>
        Download JSON
      </button>
    </div>
  );
}
