export function ServicesPage(_props: { params: URLSearchParams }) {
  return <div class="message">Services</div>;
}
