// Number, duration and time formatting shared by every page.

/** "812µs", "3.42ms", "2.8s", "1m 04s" from nanoseconds. */
export function formatDurationNs(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  const abs = Math.abs(ns);
  if (abs < 1_000) return `${Math.round(ns)}ns`;
  if (abs < 1_000_000) return `${trim(ns / 1_000)}µs`;
  if (abs < 1_000_000_000) return `${trim(ns / 1_000_000)}ms`;
  if (abs < 60_000_000_000) return `${trim(ns / 1_000_000_000)}s`;
  const totalS = Math.round(ns / 1_000_000_000);
  const m = Math.floor(totalS / 60);
  const s = totalS % 60;
  if (m < 60) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** Three significant digits at most, no trailing zeros: 3.42, 28.1, 812. */
function trim(v: number): string {
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return String(Number(v.toFixed(digits)));
}

/** A local date and time with milliseconds, from Unix nanoseconds. */
export function formatTimeNs(ns: number): string {
  const d = new Date(ns / 1_000_000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** "5 minutes ago" style age of a Unix-nanosecond time relative to `nowMs`. */
export function formatAgo(ns: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - ns / 1_000_000) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** The short form of a trace ID that Jaeger shows: its first 7 hex digits. */
export function shortTraceId(id: string): string {
  return id.slice(0, 7);
}

/**
 * Parses a Go duration as the API takes it ("2s", "150ms", "1m30s", "1.5h", "300us" or "300µs",
 * "0") into nanoseconds; undefined if malformed.
 */
export function parseDurationNs(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(t)) return undefined;
  const unit: Record<string, number> = {
    ns: 1,
    us: 1e3,
    µs: 1e3,
    ms: 1e6,
    s: 1e9,
    m: 60e9,
    h: 3600e9,
  };
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(m[1]) * unit[m[2]];
  return Math.round(total);
}
