// The one hook that loads something asynchronously for a page: search, trace and services.

import { useEffect, useState } from 'preact/hooks';

export type AsyncState<T> =
  | { status: 'idle' }
  | { status: 'loading' }
  | { status: 'done'; value: T }
  | { status: 'error'; error: unknown };

/**
 * Runs `load` whenever `deps` change (not at all while `load` is undefined) and keeps the latest
 * answer only: a slow earlier answer never overwrites a newer one.
 */
export function useAsync<T>(load: (() => Promise<T>) | undefined, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<AsyncState<T>>(() =>
    load ? { status: 'loading' } : { status: 'idle' },
  );
  useEffect(() => {
    if (!load) {
      setState({ status: 'idle' });
      return;
    }
    let current = true;
    setState({ status: 'loading' });
    load().then(
      (value) => current && setState({ status: 'done', value }),
      (error: unknown) => current && setState({ status: 'error', error }),
    );
    return () => {
      current = false;
    };
  }, deps);
  return state;
}
