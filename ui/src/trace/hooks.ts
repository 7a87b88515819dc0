// Small DOM hooks of the trace page: an element's size and a scroll container's position.

import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export interface Size {
  width: number;
  height: number;
}

/** The element's content size, kept up to date by a ResizeObserver. */
export function useElementSize(ref: RefObject<HTMLElement>): Size {
  const [size, setSize] = useState<Size>({ width: 0, height: 0 });
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const update = () => {
      const width = element.clientWidth;
      const height = element.clientHeight;
      setSize((old) => (old.width === width && old.height === height ? old : { width, height }));
    };
    update();
    const observer = new ResizeObserver(update);
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

/**
 * The element's scrollTop, updated at most once per animation frame: scrolling a 10,000-row
 * waterfall re-renders only the rows that come into view, once per frame.
 */
export function useScrollTop(ref: RefObject<HTMLElement>): number {
  const [scrollTop, setScrollTop] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    let frame = 0;
    const onScroll = () => {
      if (frame !== 0) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setScrollTop(element.scrollTop);
      });
    };
    element.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      element.removeEventListener('scroll', onScroll);
      cancelAnimationFrame(frame);
    };
  }, [ref]);
  return scrollTop;
}
