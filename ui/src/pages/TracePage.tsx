export function TracePage(props: { traceId: string; params: URLSearchParams }) {
  return <div class="message">Trace {props.traceId}</div>;
}
