import { useState } from 'preact/hooks';
import { fetchTagKeys, fetchTagValues } from '../api/client';
import { tagKeySuggestions, type Tag } from './query';
import { useAsync } from '../hooks/useAsync';

/**
 * The tag filters: one chip per key=value, and a row to add one, with the store's indexed keys and
 * the sampling decision's (then the chosen key's values) as suggestions. Suggestions are a help, not a requirement: when
 * the API cannot list them the inputs still take any text.
 */
export function TagEditor(props: {
  service: string;
  tags: Tag[];
  onChange: (tags: Tag[]) => void;
}) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const keys = useAsync(() => fetchTagKeys(props.service), [props.service]);
  const trimmedKey = key.trim();
  const values = useAsync(
    trimmedKey ? () => fetchTagValues(props.service, trimmedKey) : undefined,
    [props.service, trimmedKey],
  );
  const add = () => {
    if (!trimmedKey) return;
    const rest = props.tags.filter((t) => t.key !== trimmedKey);
    props.onChange([...rest, { key: trimmedKey, value: value.trim() }]);
    setKey('');
    setValue('');
  };
  return (
    <div class="tag-editor">
      <div class="tag-chips">
        {props.tags.map((t) => (
          <span class="chip" data-testid="tag-chip" key={t.key}>
            <span class="mono">
              {t.key}={t.value}
            </span>
            <button
              type="button"
              aria-label={`Remove tag ${t.key}`}
              onClick={() => props.onChange(props.tags.filter((x) => x.key !== t.key))}
            >
              ×
            </button>
          </span>
        ))}
      </div>
      <div class="tag-add">
        <input
          data-testid="tag-key"
          list="tag-key-suggestions"
          placeholder="key, e.g. http.status_code"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          onKeyDown={(e) => e.key === 'Enter' && (e.preventDefault(), add())}
        />
        <span>=</span>
        <input
          data-testid="tag-value"
          list="tag-value-suggestions"
          placeholder="value"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          onKeyDown={(e) => e.key === 'Enter' && (e.preventDefault(), add())}
        />
        <button type="button" onClick={add} disabled={!trimmedKey} data-testid="tag-add">
          Add
        </button>
      </div>
      <datalist id="tag-key-suggestions">
        {tagKeySuggestions(keys.status === 'done' ? keys.value : []).map((k) => (
          <option key={k} value={k} />
        ))}
      </datalist>
      <datalist id="tag-value-suggestions">
        {values.status === 'done' && values.value.map((v) => <option key={v} value={v} />)}
      </datalist>
    </div>
  );
}
