// The current trace's service colours (colors.ts), for every component of the page.

import { createContext } from 'preact';
import { useContext, useMemo } from 'preact/hooks';
import { serviceColor, serviceColors } from './colors';
import type { TraceModel } from './model';

export type ColorOf = (service: string) => string;

export const ServiceColorContext = createContext<ColorOf>(serviceColor);

export function useServiceColor(): ColorOf {
  return useContext(ServiceColorContext);
}

/** The colours of a trace's services, for its page's ServiceColorContext. */
export function useTraceColors(model: TraceModel): ColorOf {
  return useMemo(() => {
    const colors = serviceColors(model.services.map((s) => s.name));
    return (service: string) => colors.get(service) ?? serviceColor(service);
  }, [model]);
}
