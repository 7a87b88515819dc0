export function SearchPage(_props: { params: URLSearchParams }) {
  return <div class="message">Search</div>;
}
