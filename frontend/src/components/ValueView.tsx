import { humanize } from '../forms/fields';

/** Any JSON value as something people read: lists, labelled fields, text blocks. */
export function ValueView({ value, depth = 0 }: { value: unknown; depth?: number }) {
  if (value === null || value === undefined || value === '') return <span className="muted">—</span>;
  if (typeof value === 'string') {
    return value.includes('\n') || value.length > 120 ? <pre className="text-block">{value}</pre> : <span>{value}</span>;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return <span className="mono">{String(value)}</span>;
  if (depth > 4) return <pre className="text-block mono">{JSON.stringify(value, null, 2)}</pre>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className="muted">none</span>;
    const columns = tableColumns(value);
    if (columns) return <RecordTable rows={value as Record<string, unknown>[]} columns={columns} />;
    return (
      <ol className="value-list">
        {value.map((item, i) => (
          <li key={i}>
            <ValueView value={item} depth={depth + 1} />
          </li>
        ))}
      </ol>
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return <span className="muted">empty</span>;
  return (
    <dl className="value-dl">
      {entries.map(([k, v]) => (
        <div key={k} className="value-row">
          <dt>{humanize(k)}</dt>
          <dd>
            <ValueView value={v} depth={depth + 1} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A list of flat records of one shape reads best as a table: its columns, or null. */
function tableColumns(items: readonly unknown[]): string[] | null {
  if (items.length < 2 || !items.every(isRecord)) return null;
  const columns: string[] = [];
  for (const item of items as Record<string, unknown>[]) {
    for (const [key, v] of Object.entries(item)) {
      if (v !== null && typeof v === 'object') return null;
      if (!columns.includes(key)) columns.push(key);
    }
  }
  return columns.length > 0 && columns.length <= 8 ? columns : null;
}

function RecordTable({ rows, columns }: { rows: readonly Record<string, unknown>[]; columns: readonly string[] }) {
  return (
    <div className="table-wrap">
      <table className="value-table">
        <thead>
          <tr>{columns.map((c) => <th key={c} scope="col">{humanize(c)}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {columns.map((c) => <td key={c}>{row[c] === undefined || row[c] === null ? '—' : String(row[c])}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
