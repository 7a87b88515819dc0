import type { ComponentChildren } from 'preact';
import { onLinkClick } from '../router';

/** A link inside the app: `href` is relative to the base (e.g. "trace/abc"). */
export function Link(props: {
  href: string;
  class?: string;
  title?: string;
  children: ComponentChildren;
}) {
  return (
    <a
      href={props.href}
      class={props.class}
      title={props.title}
      onClick={(e) => onLinkClick(e, props.href)}
    >
      {props.children}
    </a>
  );
}
