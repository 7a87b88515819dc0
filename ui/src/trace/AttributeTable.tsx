// A list of OTLP attributes as a two-column table of key and value.

import type { KeyValue } from '../api/types';
import { anyValueText } from './values';

export function AttributeTable(props: { attributes: KeyValue[]; empty?: string }) {
  if (props.attributes.length === 0) {
    return <p class="muted attr-empty">{props.empty ?? 'None.'}</p>;
  }
  // Sorted by key: a reader looks a key up by name.
  const sorted = [...props.attributes].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return (
    <table class="attr-table">
      <tbody>
        {sorted.map((kv, i) => (
          <tr key={`${kv.key}-${i}`}>
            <th scope="row">{kv.key}</th>
            <td class="mono">{anyValueText(kv.value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
