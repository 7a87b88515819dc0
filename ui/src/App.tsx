import { Link } from './components/Link';
import { SearchPage } from './pages/SearchPage';
import { ServicesPage } from './pages/ServicesPage';
import { TracePage } from './pages/TracePage';
import { useRoute } from './router';

export function App() {
  const route = useRoute();
  return (
    <div class="app">
      <header class="topbar">
        <Link href="search" class="brand">
          tailtrace
        </Link>
        <nav>
          <Link href="search" class={route.page === 'search' ? 'active' : ''}>
            Search
          </Link>
          <Link href="services" class={route.page === 'services' ? 'active' : ''}>
            Services
          </Link>
        </nav>
        <TraceIdJump />
      </header>
      <main>
        {route.page === 'search' && <SearchPage params={route.params} />}
        {route.page === 'trace' && <TracePage traceId={route.traceId} params={route.params} />}
        {route.page === 'services' && <ServicesPage params={route.params} />}
        {route.page === 'not-found' && (
          <div class="message error" role="alert">
            There is no page at “{route.path}”. Try <Link href="search">Search</Link>.
          </div>
        )}
      </main>
    </div>
  );
}

/** The top bar's "go to trace ID" box. */
function TraceIdJump() {
  return (
    <form
      class="jump"
      onSubmit={(e) => {
        e.preventDefault();
        const input = (e.currentTarget as HTMLFormElement).elements.namedItem(
          'traceId',
        ) as HTMLInputElement;
        const id = input.value.trim();
        if (id) {
          input.value = '';
          import('./router').then((r) => r.navigate(`trace/${encodeURIComponent(id)}`));
        }
      }}
    >
      <input name="traceId" placeholder="Trace ID" aria-label="Go to trace ID" spellcheck={false} />
    </form>
  );
}
