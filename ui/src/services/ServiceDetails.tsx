// The selected service's part of the services page: its RED charts and operations table.

import { Link } from '../components/Link';
import { ErrorMessage, Loading } from '../components/Message';
import { searchHref } from './links';
import { isMetricsOff, loadServiceMetrics, type ServiceMetrics } from './load';
import { hasCalls } from './operations';
import type { TimeRange } from './range';
import { OperationsTable } from './OperationsTable';
import { RedChartsView } from './RedChartsView';
import { useAsync } from '../hooks/useAsync';

/** Why there are no charts when span metrics are off. */
export function MetricsOff() {
  return (
    <div class="message">
      RED metrics are off on this tailtraced (<span class="mono">metrics.enabled: false</span>, or
      its store keeps no span metrics), so the page shows the service map only: no request rate,
      error rate or latency.
    </div>
  );
}

interface ServiceDetailsProps {
  service: string;
  range: TimeRange;
  minStepMs: number;
  refreshes: number;
}

/** The selected service's RED charts and operations. */
export function ServiceDetails(props: ServiceDetailsProps) {
  const { service, range } = props;
  const details = useAsync(
    () => loadServiceMetrics(service, range, Date.now(), props.minStepMs),
    [service, range.key, props.minStepMs, props.refreshes],
  );
  return (
    <section class="panel service-details">
      <h2>
        {service} <Link href={searchHref(service)}>search its traces</Link>
      </h2>
      {details.status === 'loading' && <Loading what={`the metrics of ${service}`} />}
      {details.status === 'error' &&
        (isMetricsOff(details.error) ? (
          <MetricsOff />
        ) : (
          <ErrorMessage error={details.error} what={`Could not load the metrics of ${service}`} />
        ))}
      {details.status === 'done' && (
        <DetailsBody service={service} range={range} details={details.value} />
      )}
    </section>
  );
}

function DetailsBody(props: { service: string; range: TimeRange; details: ServiceMetrics }) {
  const { service, details } = props;
  if (!hasCalls(details.operations)) {
    return (
      <div class="message">
        No calls recorded in {props.range.phrase}: {service} served no requests (server spans) in
        that time.
      </div>
    );
  }
  return (
    <>
      <RedChartsView charts={details.charts} service={service} windowMs={details.windowMs} />
      <h3>Operations</h3>
      <OperationsTable service={service} rows={details.operations} />
    </>
  );
}
