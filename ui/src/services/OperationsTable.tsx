// A service's operations over the range, sortable by every column.

import { useState } from 'preact/hooks';
import { Link } from '../components/Link';
import { searchHref } from './links';
import {
  DEFAULT_SORT,
  sortRows,
  toggleSort,
  type OperationRow,
  type SortKey,
  type SortState,
} from './operations';
import { formatErrorRate, formatLatencyMs, formatRate } from './red';

interface Column {
  key: SortKey;
  title: string;
}

interface NumberColumn extends Column {
  key: Exclude<SortKey, 'operation'>;
  format: (value: number) => string;
}

const NUMBER_COLUMNS: readonly NumberColumn[] = [
  { key: 'rate', title: 'Request rate', format: formatRate },
  { key: 'errorRate', title: 'Error rate', format: formatErrorRate },
  { key: 'p50', title: 'p50', format: formatLatencyMs },
  { key: 'p95', title: 'p95', format: formatLatencyMs },
  { key: 'p99', title: 'p99', format: formatLatencyMs },
];

const COLUMNS: readonly Column[] = [{ key: 'operation', title: 'Operation' }, ...NUMBER_COLUMNS];

export function OperationsTable(props: { service: string; rows: OperationRow[] }) {
  const [sort, setSort] = useState<SortState>(DEFAULT_SORT);
  const rows = sortRows(props.rows, sort);
  return (
    <table data-testid="operations-table" class="operations-table">
      <thead>
        <tr>
          {COLUMNS.map((column) => (
            <SortableHeader
              key={column.key}
              column={column}
              sort={sort}
              onSort={() => setSort(toggleSort(sort, column.key))}
            />
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.operation} data-operation={row.operation}>
            <td>
              <Link href={searchHref(props.service, row.operation)} title="Search its traces">
                {row.operation}
              </Link>
            </td>
            {NUMBER_COLUMNS.map((c) => (
              <td key={c.key} class="number">
                {c.format(row[c.key])}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SortableHeader(props: { column: Column; sort: SortState; onSort: () => void }) {
  const { column, sort } = props;
  const active = sort.key === column.key;
  const direction = sort.descending ? 'descending' : 'ascending';
  return (
    <th
      scope="col"
      class={column.key === 'operation' ? undefined : 'number'}
      aria-sort={active ? direction : 'none'}
    >
      <button type="button" class="sort" onClick={props.onSort}>
        {column.title}
        <span class="sort-mark" aria-hidden="true">
          {active ? (sort.descending ? ' ▼' : ' ▲') : ''}
        </span>
      </button>
    </th>
  );
}
