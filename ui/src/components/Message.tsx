import { ApiError } from '../api/client';

/** An error shown to the user in words, never a blank page. */
export function ErrorMessage(props: { error: unknown; what?: string }) {
  const e = props.error;
  let text: string;
  if (e instanceof ApiError) text = e.message;
  else if (e instanceof Error) text = e.message;
  else text = String(e);
  return (
    <div class="message error" role="alert">
      {props.what ? <strong>{props.what}: </strong> : null}
      {text}
    </div>
  );
}

export function PartialErrors(props: { errors: string[] }) {
  if (props.errors.length === 0) return null;
  return (
    <div class="message warning" role="status">
      <strong>Partial result:</strong> {props.errors.join('; ')}
    </div>
  );
}

export function Loading(props: { what: string }) {
  return <div class="message loading">Loading {props.what}…</div>;
}
