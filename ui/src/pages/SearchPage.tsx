import { useState } from 'preact/hooks';
import { fetchSummaries } from '../api/client';
import { ErrorMessage, Loading, PartialErrors } from '../components/Message';
import { navigate } from '../router';
import {
  formFromParams,
  formToParams,
  summariesParams,
  validateForm,
  withTag,
  type SearchForm,
} from '../search/query';
import { ResultsList } from '../search/ResultsList';
import { SORT_ORDERS, sortRows, toRow, type SortOrder } from '../search/results';
import { ScatterPlot } from '../search/ScatterPlot';
import { SearchFormView } from '../search/SearchFormView';
import { useAsync } from '../hooks/useAsync';

/**
 * Search: the form on the left; on the right the duration-over-time plot and the result list,
 * read from trace summaries (a result list never loads whole traces). The URL is the search: a
 * search navigates to its deep link, and a deep link (or Back) runs its search.
 */
export function SearchPage(props: { params: URLSearchParams }) {
  const query = props.params.toString();
  const form = formFromParams(props.params);
  // Only a URL that came from a search (or a pasted deep link) runs one; a bare "search" waits.
  const hasSearch = props.params.has('lookback') || props.params.has('service');
  const problem = hasSearch ? validateForm(form) : undefined;
  const [nowMs, setNowMs] = useState(Date.now());
  const results = useAsync(
    hasSearch && !problem ? () => fetchSummaries(summariesParams(form, nowMs)) : undefined,
    [query, nowMs],
  );
  const [order, setOrder] = useState<SortOrder>('recent');
  const search = (f: SearchForm) => {
    setNowMs(Date.now());
    navigate(`search?${formToParams(f).toString()}`);
  };
  return (
    <div class="search-page">
      <SearchFormView key={query} initial={form} onSearch={search} />
      <section class="search-results">
        {!hasSearch && (
          <div class="message">Pick a service (or all services) and press Find traces.</div>
        )}
        {problem && (
          <div class="message error" role="alert">
            {problem}
          </div>
        )}
        {results.status === 'loading' && <Loading what="traces" />}
        {results.status === 'error' && <ErrorMessage error={results.error} what="Search failed" />}
        {results.status === 'done' && (
          <Results
            rows={results.value.summaries.map(toRow)}
            partialErrors={results.value.partialErrors}
            order={order}
            setOrder={setOrder}
            nowMs={nowMs}
            onPolicy={(policy) => search(withTag(form, 'sampling.policy', policy))}
          />
        )}
      </section>
    </div>
  );
}

function Results(props: {
  rows: ReturnType<typeof toRow>[];
  partialErrors: string[];
  order: SortOrder;
  setOrder: (o: SortOrder) => void;
  nowMs: number;
  onPolicy: (policy: string) => void;
}) {
  if (props.rows.length === 0) {
    return (
      <>
        <PartialErrors errors={props.partialErrors} />
        <div class="message" data-testid="no-results">
          No traces match this search in this time range.
        </div>
      </>
    );
  }
  const sorted = sortRows(props.rows, props.order);
  const maxDurationNs = Math.max(...props.rows.map((r) => r.durationNs));
  return (
    <>
      <PartialErrors errors={props.partialErrors} />
      <ScatterPlot rows={props.rows} />
      <div class="results-toolbar">
        <strong data-testid="result-count">
          {props.rows.length} trace{props.rows.length === 1 ? '' : 's'}
        </strong>
        <label>
          Sort{' '}
          <select
            value={props.order}
            onChange={(e) => props.setOrder(e.currentTarget.value as SortOrder)}
          >
            {SORT_ORDERS.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ResultsList
        rows={sorted}
        nowMs={props.nowMs}
        maxDurationNs={maxDurationNs}
        onPolicy={props.onPolicy}
      />
    </>
  );
}
