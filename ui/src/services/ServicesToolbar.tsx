// The services page's controls: the time range, the selected service, and a refresh.

import { TIME_RANGES, type TimeRange } from './range';

interface ServicesToolbarProps {
  range: TimeRange;
  service?: string;
  /** The services to choose from; undefined while they load. */
  services?: string[];
  onRange: (range: TimeRange) => void;
  onService: (service: string | undefined) => void;
  onRefresh: () => void;
}

export function ServicesToolbar(props: ServicesToolbarProps) {
  return (
    <div class="services-toolbar">
      <div class="range-picker" role="group" aria-label="Time range">
        {TIME_RANGES.map((r) => (
          <button
            key={r.key}
            type="button"
            class={r.key === props.range.key ? 'active' : undefined}
            aria-pressed={r.key === props.range.key}
            title={r.label}
            onClick={() => props.onRange(r)}
          >
            {r.key}
          </button>
        ))}
      </div>
      <label>
        Service{' '}
        <select
          value={props.service ?? ''}
          onChange={(e) => props.onService(e.currentTarget.value || undefined)}
        >
          <option value="">(select one)</option>
          {serviceOptions(props.services, props.service).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <button type="button" onClick={props.onRefresh}>
        Refresh
      </button>
    </div>
  );
}

/** The list, plus the selected service when the list lacks it (still loading, or no calls). */
function serviceOptions(services: string[] | undefined, selected: string | undefined): string[] {
  const list = services ?? [];
  return selected && !list.includes(selected) ? [selected, ...list] : list;
}
