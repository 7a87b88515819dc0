import { useState } from 'preact/hooks';
import { fetchOperations, fetchServices } from '../api/client';
import { ErrorMessage } from '../components/Message';
import { LOOKBACKS, MAX_LIMIT, validateForm, type SearchForm } from './query';
import { TagEditor } from './TagEditor';
import { useAsync } from '../hooks/useAsync';

/** The search form (left column). Submitting hands the form to `onSearch`; nothing is fetched here but the pickers' lists. */
export function SearchFormView(props: {
  initial: SearchForm;
  onSearch: (form: SearchForm) => void;
}) {
  const [form, setForm] = useState(props.initial);
  const [problem, setProblem] = useState<string>();
  const services = useAsync(fetchServices, []);
  const operations = useAsync(form.service ? () => fetchOperations(form.service) : undefined, [
    form.service,
  ]);
  const update = (patch: Partial<SearchForm>) => setForm({ ...form, ...patch });
  const submit = (e: Event) => {
    e.preventDefault();
    const error = validateForm(form);
    setProblem(error);
    if (!error) props.onSearch(form);
  };
  const operationNames =
    operations.status === 'done' ? [...new Set(operations.value.map((o) => o.name))].sort() : [];
  return (
    <form class="search-form panel" onSubmit={submit} data-testid="search-form">
      <label>
        Service
        <select
          data-testid="service-select"
          value={form.service}
          onChange={(e) => update({ service: e.currentTarget.value, operation: '' })}
        >
          <option value="">All services</option>
          {services.status === 'done' &&
            withCurrent(services.value, form.service).map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
        </select>
      </label>
      {services.status === 'error' && <ErrorMessage error={services.error} what="Services" />}
      <label>
        Operation
        <select
          data-testid="operation-select"
          value={form.operation}
          disabled={!form.service}
          onChange={(e) => update({ operation: e.currentTarget.value })}
        >
          <option value="">All operations</option>
          {withCurrent(operationNames, form.operation).map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </label>
      <fieldset>
        <legend>Tags</legend>
        <TagEditor service={form.service} tags={form.tags} onChange={(tags) => update({ tags })} />
      </fieldset>
      <div class="row2">
        <label>
          Min duration
          <input
            data-testid="min-duration"
            placeholder="e.g. 2s"
            value={form.minDuration}
            onInput={(e) => update({ minDuration: e.currentTarget.value })}
          />
        </label>
        <label>
          Max duration
          <input
            data-testid="max-duration"
            placeholder="e.g. 10s"
            value={form.maxDuration}
            onInput={(e) => update({ maxDuration: e.currentTarget.value })}
          />
        </label>
      </div>
      <TimeRange form={form} update={update} />
      <label>
        Limit
        <input
          data-testid="limit"
          type="number"
          min={1}
          max={MAX_LIMIT}
          value={form.limit}
          onInput={(e) => update({ limit: Number(e.currentTarget.value) })}
        />
      </label>
      {problem && (
        <div class="message error" role="alert">
          {problem}
        </div>
      )}
      <button class="primary" type="submit" data-testid="search-submit">
        Find traces
      </button>
    </form>
  );
}

/** The list with `current` in it, so a deep link to a service not (or no longer) listed shows. */
function withCurrent(list: string[], current: string): string[] {
  return current && !list.includes(current) ? [current, ...list] : list;
}

function TimeRange(props: { form: SearchForm; update: (patch: Partial<SearchForm>) => void }) {
  const { form, update } = props;
  return (
    <>
      <label>
        Time range
        <select
          data-testid="lookback"
          value={form.lookback}
          onChange={(e) => {
            const lookback = e.currentTarget.value;
            if (lookback !== 'custom') return update({ lookback });
            const endUs = Date.now() * 1000;
            update({ lookback, endUs, startUs: endUs - 3_600_000_000 });
          }}
        >
          {LOOKBACKS.map((l) => (
            <option key={l.value} value={l.value}>
              {l.label}
            </option>
          ))}
          <option value="custom">Custom range</option>
        </select>
      </label>
      {form.lookback === 'custom' && (
        <div class="row2">
          <label>
            From
            <input
              type="datetime-local"
              step={1}
              data-testid="start-time"
              value={toLocalInput(form.startUs)}
              onInput={(e) => update({ startUs: fromLocalInput(e.currentTarget.value) })}
            />
          </label>
          <label>
            To
            <input
              type="datetime-local"
              step={1}
              data-testid="end-time"
              value={toLocalInput(form.endUs)}
              onInput={(e) => update({ endUs: fromLocalInput(e.currentTarget.value) })}
            />
          </label>
        </div>
      )}
    </>
  );
}

function toLocalInput(us: number | undefined): string {
  if (us === undefined) return '';
  const d = new Date(us / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

function fromLocalInput(text: string): number | undefined {
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? ms * 1000 : undefined;
}
