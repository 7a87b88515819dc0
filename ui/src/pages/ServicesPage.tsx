// The services page: the service map of a time range and, for the selected service, its RED
// charts and operations. Deep link: services?service=X&range=1h.

import { useState } from 'preact/hooks';
import { ErrorMessage, Loading } from '../components/Message';
import { navigate } from '../router';
import type { ServiceGraph } from '../services/graph';
import { servicesHref } from '../services/links';
import { loadMap, type MetricsStatus } from '../services/load';
import { rangeOf, type TimeRange } from '../services/range';
import { MetricsOff, ServiceDetails } from '../services/ServiceDetails';
import { ServiceMap } from '../services/ServiceMap';
import { ServicesToolbar } from '../services/ServicesToolbar';
import { useAsync } from '../hooks/useAsync';

export function ServicesPage(props: { params: URLSearchParams }) {
  const range = rangeOf(props.params.get('range'));
  const service = props.params.get('service') || undefined;
  // Each refresh loads again, up to now.
  const [refreshes, setRefreshes] = useState(0);
  const map = useAsync(() => loadMap(range, Date.now()), [range.key, refreshes]);
  const select = (next: string | undefined) => navigate(servicesHref(range.key, next));
  return (
    <div class="services-page">
      <ServicesToolbar
        range={range}
        service={service}
        services={map.status === 'done' ? map.value.services : undefined}
        onRange={(r) => navigate(servicesHref(r.key, service))}
        onService={select}
        onRefresh={() => setRefreshes((n) => n + 1)}
      />
      {map.status === 'loading' && <Loading what="the service map" />}
      {map.status === 'error' && (
        <ErrorMessage error={map.error} what="Could not load the service map" />
      )}
      {map.status === 'done' && (
        <>
          <MapPanel
            graph={map.value.graph}
            metricsOn={map.value.metrics.state === 'on'}
            range={range}
            service={service}
            onSelect={select}
          />
          <ServicePanel
            metrics={map.value.metrics}
            mapEmpty={map.value.graph.nodes.length === 0}
            range={range}
            service={service}
            refreshes={refreshes}
          />
        </>
      )}
    </div>
  );
}

interface MapPanelProps {
  graph: ServiceGraph;
  metricsOn: boolean;
  range: TimeRange;
  service?: string;
  onSelect: (service: string) => void;
}

function MapPanel(props: MapPanelProps) {
  if (props.graph.nodes.length === 0) {
    return <div class="message">No calls between services recorded in {props.range.phrase}.</div>;
  }
  return (
    <section class="panel service-map-panel">
      <h2>Service map</h2>
      <ServiceMap
        graph={props.graph}
        selected={props.service}
        onSelect={props.onSelect}
        rangePhrase={props.range.phrase}
      />
      <p class="muted service-map-note">{mapNote(props.metricsOn, props.range)}</p>
    </section>
  );
}

/** What the map's numbers mean, and where they come from (docs/search.md, docs/metrics.md). */
function mapNote(metricsOn: boolean, range: TimeRange): string {
  const arrows =
    `An arrow counts the calls from one service to another in ${range.phrase} and the share ` +
    'that failed (the called span, or a client span making the call, had status ERROR)';
  if (!metricsOn) return `${arrows}, from the traces the store kept.`;
  return (
    `${arrows}, from every trace before sampling. A service's box shows the requests it ` +
    'served (its server spans) and the share of them with status ERROR. Click a service to ' +
    'see its charts and operations.'
  );
}

interface ServicePanelProps {
  metrics: MetricsStatus;
  /** Nothing to select on the map. */
  mapEmpty: boolean;
  range: TimeRange;
  service?: string;
  refreshes: number;
}

function ServicePanel(props: ServicePanelProps) {
  const { metrics } = props;
  if (metrics.state === 'off') return <MetricsOff />;
  if (metrics.state === 'failed') {
    return <ErrorMessage error={metrics.error} what="Could not load RED metrics" />;
  }
  if (!props.service) {
    if (props.mapEmpty) return null;
    return (
      <div class="message">
        Select a service on the map or in the list above to see its request rate, error rate,
        latency and operations.
      </div>
    );
  }
  return (
    <ServiceDetails
      service={props.service}
      range={props.range}
      minStepMs={metrics.minStepMs}
      refreshes={props.refreshes}
    />
  );
}
