// The search box of the trace page: filters and highlights the spans that match, counts them,
// and steps through them (Enter / Shift+Enter, or the arrow buttons).

interface Props {
  query: string;
  matches: number;
  total: number;
  /** Which match is selected (0-based), -1 for none. */
  current: number;
  onQuery: (query: string) => void;
  onStep: (step: 1 | -1) => void;
}

export function TraceSearch(props: Props) {
  const active = props.query.trim() !== '';
  return (
    <div class="trace-search" role="search">
      <input
        type="search"
        data-testid="trace-search"
        placeholder="Find in trace: service, operation, span ID, attribute"
        aria-label="Find spans in this trace"
        spellcheck={false}
        value={props.query}
        onInput={(e) => props.onQuery((e.currentTarget as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key !== 'Enter') return;
          e.preventDefault();
          props.onStep(e.shiftKey ? -1 : 1);
        }}
      />
      {active && (
        <>
          <span class="trace-search-count" data-testid="trace-search-count" aria-live="polite">
            {props.matches} of {props.total} spans match
          </span>
          {props.current >= 0 && (
            <span class="muted">
              ({props.current + 1}/{props.matches})
            </span>
          )}
          <button
            type="button"
            aria-label="Previous match"
            title="Previous match (Shift+Enter)"
            disabled={props.matches === 0}
            onClick={() => props.onStep(-1)}
          >
            ↑
          </button>
          <button
            type="button"
            aria-label="Next match"
            title="Next match (Enter)"
            disabled={props.matches === 0}
            onClick={() => props.onStep(1)}
          >
            ↓
          </button>
        </>
      )}
    </div>
  );
}
