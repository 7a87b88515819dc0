// The shapes of tailtraced's query API that the UI reads (docs/search.md, docs/metrics.md).

/** An OTLP JSON AnyValue (api/v3): exactly one member is set. */
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
}

export interface KeyValue {
  key: string;
  value?: AnyValue;
}

export interface OtlpEvent {
  timeUnixNano: string;
  name: string;
  attributes?: KeyValue[];
}

export interface OtlpLink {
  traceId: string;
  spanId: string;
  traceState?: string;
  attributes?: KeyValue[];
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  /** 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: KeyValue[];
  events?: OtlpEvent[];
  links?: OtlpLink[];
  /** code: 0 unset, 1 ok, 2 error */
  status?: { code?: number; message?: string };
}

export interface OtlpScopeSpans {
  scope?: { name?: string; version?: string; attributes?: KeyValue[] };
  spans?: OtlpSpan[];
}

export interface OtlpResourceSpans {
  resource?: { attributes?: KeyValue[] };
  scopeSpans?: OtlpScopeSpans[];
}

/** GET api/v3/traces/{id} */
export interface OtlpTraceResponse {
  result?: { resourceSpans?: OtlpResourceSpans[] };
}

export interface ServiceSummary {
  name: string;
  spanCount: number;
  errorSpanCount: number;
}

/** One entry of GET api/v3/trace-summaries. */
export interface TraceSummary {
  traceId: string;
  rootServiceName: string;
  rootOperationName: string;
  minStartTimeUnixNano: string;
  maxEndTimeUnixNano: string;
  durationNano: string;
  spanCount: number;
  errorSpanCount: number;
  orphanSpanCount: number;
  services: ServiceSummary[];
  /** The sampling policy that kept the trace, when the store recorded one. */
  samplingPolicy?: string;
}

export interface Operation {
  name: string;
  spanKind: string;
}

export interface DependencyLink {
  parent: string;
  child: string;
  callCount: number;
  /** Failed calls: the child span failed, or a client/producer parent span did. */
  errorCount?: number;
}

/** A Jaeger SPM (api/metrics/...) series: labels and points. */
export interface MetricPoint {
  gaugeValue?: { doubleValue?: number | string };
  timestamp: string;
}

export interface MetricSeries {
  labels: { name: string; value: string }[];
  metricPoints: MetricPoint[];
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  metrics: MetricSeries[];
}
