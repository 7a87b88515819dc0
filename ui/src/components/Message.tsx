import { ApiError, setToken } from '../api/client';

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
      {e instanceof ApiError && e.kind === 'unauthorized' && <TokenForm />}
    </div>
  );
}

/** Asks for the API's bearer token, keeps it for this tab, and reloads the page with it. */
function TokenForm() {
  return (
    <form
      class="token-form"
      onSubmit={(ev) => {
        ev.preventDefault();
        const input = (ev.currentTarget as HTMLFormElement).elements.namedItem('token');
        setToken((input as HTMLInputElement).value.trim());
        window.location.reload();
      }}
    >
      <input name="token" type="password" placeholder="Bearer token" autocomplete="off" />
      <button type="submit">Use token</button>
    </form>
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
