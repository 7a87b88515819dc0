// A small history router. Routes are paths relative to the page's <base href> (query.base_path),
// with Jaeger's deep-link shapes: search?service=..&minDuration=.., trace/{traceID}, services.

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'search'; params: URLSearchParams }
  | { page: 'trace'; traceId: string; params: URLSearchParams }
  | { page: 'services'; params: URLSearchParams }
  | { page: 'not-found'; path: string };

/** The base path with a trailing slash, e.g. "/" or "/tracing/". */
export function basePath(): string {
  const p = new URL(document.baseURI).pathname;
  return p.endsWith('/') ? p : `${p}/`;
}

/** Parses a path relative to the base ("trace/abc", "search") and its query. */
export function parseRoute(relative: string, search: string): Route {
  const params = new URLSearchParams(search);
  const path = relative.replace(/^\/+|\/+$/g, '');
  if (path === '' || path === 'search') return { page: 'search', params };
  if (path === 'services' || path === 'monitor' || path === 'dependencies') {
    return { page: 'services', params };
  }
  const trace = /^trace\/([^/]+)$/.exec(path);
  if (trace) return { page: 'trace', traceId: decodeURIComponent(trace[1]), params };
  return { page: 'not-found', path };
}

function currentRoute(): Route {
  const base = basePath();
  const path = window.location.pathname;
  const relative = path.startsWith(base) ? path.slice(base.length) : path;
  return parseRoute(relative, window.location.search);
}

const listeners = new Set<() => void>();

/** Goes to `href` (relative to the base, e.g. "trace/abc" or "search?service=x"). */
export function navigate(href: string, replace = false): void {
  const url = new URL(href, document.baseURI);
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const l of listeners) l();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** An anchor that navigates inside the app (a plain link when modified, e.g. ctrl-click). */
export function onLinkClick(e: MouseEvent, href: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(href);
}
