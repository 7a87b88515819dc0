// The time axis of the waterfall and the flame graph: tick labels, and tick lines to lay behind
// the bars.

import { percent, type Tick } from './layout';

export function TickLabels(props: { ticks: Tick[] }) {
  return (
    <div class="time-ticks" aria-hidden="true">
      {props.ticks.map((t) => (
        <span
          key={t.value}
          class={t.fraction > 0.95 ? 'time-tick end' : 'time-tick'}
          style={{ left: percent(t.fraction) }}
        >
          {t.label}
        </span>
      ))}
    </div>
  );
}

export function TickLines(props: { ticks: Tick[] }) {
  return (
    <div class="time-lines" aria-hidden="true">
      {props.ticks.map((t) => (
        <span key={t.value} class="time-line" style={{ left: percent(t.fraction) }} />
      ))}
    </div>
  );
}
