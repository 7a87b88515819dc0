// The in-app addresses the services page links to (relative to the base, see router.ts).

import type { RangeKey } from './range';

/** The services page: `services?service=X&range=1h` (no `service` when none is selected). */
export function servicesHref(rangeKey: RangeKey, service?: string): string {
  const params = new URLSearchParams();
  if (service) params.set('service', service);
  params.set('range', rangeKey);
  return `services?${params}`;
}

/** The search page for a service's traces, and for one operation's when given. */
export function searchHref(service: string, operation?: string): string {
  const params = new URLSearchParams({ service });
  if (operation !== undefined) params.set('operation', operation);
  return `search?${params}`;
}
