// A span's timing in words, for the tooltips of waterfall rows and flame frames.

import { formatDurationNs } from '../format';
import { totalTime, type CriticalSegment } from './critical_path';
import type { TraceSpan } from './model';

/** "checkout: reserve\nstart +50ms, duration 3s\ncritical path: 80ms" */
export function spanTimingText(s: TraceSpan, critical: CriticalSegment[]): string {
  const onPath = totalTime(critical);
  const lines = [
    `${s.service}: ${s.name}`,
    `start +${formatDurationNs(s.start)}, duration ${formatDurationNs(s.duration)}`,
  ];
  if (onPath > 0) lines.push(`critical path: ${formatDurationNs(onPath)}`);
  return lines.join('\n');
}
