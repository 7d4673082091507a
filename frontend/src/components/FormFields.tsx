import type { ReactNode } from 'react';
import {
  type FieldErrors, type FormField, type RawValue,
  boundsHint, emptyRow, isGroupField, isListField,
} from '../forms/fields';
import { isGroup, isList } from '../forms/values';

/** Where a value lives in the form: field names and row indexes ("lines", "2", "qty"). */
export type Path = readonly string[];
export type OnChange = (path: Path, value: RawValue) => void;

interface FieldProps {
  field: FormField;
  path: Path;
  /** The id prefix of this form (useId), so two forms on a page never share ids. */
  formId: string;
  value: RawValue | undefined;
  errors: FieldErrors;
  onChange: OnChange;
  /** Set for a list's rows: the row's accessible name (it has no label of its own). */
  rowLabel?: string;
  /** Set for a list's rows: the button that removes it, shown beside the input. */
  remove?: ReactNode;
}

export const pathKey = (path: Path): string => path.join('.');
const idOf = (formId: string, path: Path): string => `${formId}-${path.join('-')}`;

/** One field of a generated form: an input, a fieldset of a nested model's fields, or
 * the rows of a list. */
export function FieldView(props: FieldProps) {
  const { field } = props;
  if (isGroupField(field)) return <GroupField {...props} fields={field.fields} />;
  if (isListField(field)) return <ListField {...props} item={field.item} />;
  return <ScalarField {...props} />;
}

/** The fields of a (nested) model, in order. */
export function FieldsView({ fields, path, formId, value, errors, onChange }: Omit<FieldProps, 'field'> & { fields: readonly FormField[] }) {
  const group = isGroup(value) ? value : {};
  return (
    <>
      {fields.map((f) => (
        <FieldView key={f.name} field={f} path={[...path, f.name]} formId={formId} value={group[f.name]} errors={errors} onChange={onChange} />
      ))}
    </>
  );
}

function RequiredMark() {
  return (
    <span className="required" title="required">
      <span aria-hidden="true"> *</span>
      <span className="sr-only"> (required)</span>
    </span>
  );
}

function Legend({ field, text, row }: { field: FormField; text: string; row: boolean }) {
  const hint = boundsHint(field);
  return (
    <legend>
      {text}
      {field.required && !row && <RequiredMark />}
      {hint && <span className="hint"> {hint}</span>}
    </legend>
  );
}

function ErrorText({ id, error }: { id: string; error: string | undefined }) {
  return error ? <p className="field-error" id={id}>{error}</p> : null;
}

/** A nested model: a fieldset whose legend is the field's label. */
function GroupField({ field, fields, path, formId, value, errors, onChange, rowLabel, remove }: FieldProps & { fields: readonly FormField[] }) {
  const key = pathKey(path);
  const errorId = `${idOf(formId, path)}-error`;
  return (
    <fieldset id={idOf(formId, path)} className={`field-group${errors[key] ? ' has-error' : ''}`} data-field={key} aria-describedby={errors[key] ? errorId : undefined}>
      <Legend field={field} text={rowLabel ?? field.label} row={rowLabel !== undefined} />
      <FieldsView fields={fields} path={path} formId={formId} value={value} errors={errors} onChange={onChange} />
      <ErrorText id={errorId} error={errors[key]} />
      {remove && <div className="group-actions">{remove}</div>}
    </fieldset>
  );
}

/** A list: one row per item, each with a remove button, and a button to add one. */
function ListField({ field, item, path, formId, value, errors, onChange, rowLabel }: FieldProps & { item: FormField }) {
  const key = pathKey(path);
  const rows = isList(value) ? value : [];
  const label = rowLabel ?? field.label;
  const errorId = `${idOf(formId, path)}-error`;
  const addRow = (): void => {
    onChange(path, [...rows, emptyRow({ ...field, item })]);
    // Put the cursor in the new row: keyboard users need not hunt for it.
    const added = idOf(formId, [...path, String(rows.length)]);
    requestAnimationFrame(() => {
      const row = document.getElementById(added);
      const input = row?.matches('input, select, textarea') ? row : row?.querySelector<HTMLElement>('input, select, textarea');
      input?.focus();
    });
  };
  return (
    <fieldset id={idOf(formId, path)} className={`field-group list-input${errors[key] ? ' has-error' : ''}`} data-field={key} aria-describedby={errors[key] ? errorId : undefined}>
      <Legend field={field} text={label} row={rowLabel !== undefined} />
      {rows.map((row, i) => {
        const rowPath = [...path, String(i)];
        const name = `${label}, item ${i + 1}`;
        const remove = (
          <button type="button" className="button ghost small" aria-label={`Remove ${name}`} onClick={() => onChange(path, rows.filter((_, j) => j !== i))}>
            {isGroupField(item) ? 'Remove' : '✕'}
          </button>
        );
        return <FieldView key={i} field={item} path={rowPath} formId={formId} value={row} errors={errors} onChange={onChange} rowLabel={name} remove={remove} />;
      })}
      {rows.length === 0 && <p className="muted small">No items.</p>}
      <ErrorText id={errorId} error={errors[key]} />
      <button type="button" className="button ghost small" aria-label={`Add an item to ${label}`} onClick={addRow}>
        + Add item
      </button>
    </fieldset>
  );
}

const INPUT_TYPES: Partial<Record<FormField['type'], string>> = {
  string: 'text', email: 'email', password: 'password', date: 'date', datetime: 'datetime-local', time: 'time',
};

/** One input: text of some kind, a number, a choice, a checkbox or a JSON box. */
function ScalarField({ field, path, formId, value, errors, onChange, rowLabel, remove }: FieldProps) {
  const key = pathKey(path);
  const id = idOf(formId, path);
  const error = errors[key];
  const errorId = `${id}-error`;
  const change = (v: RawValue): void => onChange(path, v);
  const common = {
    id,
    name: key,
    'data-field': key,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': error ? errorId : undefined,
    'aria-required': field.required || undefined,
    // A row has no label element of its own: it is named after its list and place.
    'aria-label': rowLabel,
  };
  const text = typeof value === 'string' ? value : '';
  if (field.type === 'boolean') {
    return (
      <div className={`field field-check${error ? ' has-error' : ''}`}>
        <input type="checkbox" {...common} aria-label={undefined} checked={value === true} onChange={(e) => change(e.target.checked)} />
        <label htmlFor={id}>{rowLabel ?? field.label}{field.required && !rowLabel && <RequiredMark />}</label>
        {remove}
        <ErrorText id={errorId} error={error} />
      </div>
    );
  }
  let control: ReactNode;
  if (field.enum) {
    control = (
      <select {...common} value={text} onChange={(e) => change(e.target.value)}>
        {field.required ? <option value="" disabled>Choose…</option> : <option value="">—</option>}
        {field.enum.map((option, i) => <option key={String(i)} value={String(i)}>{String(option)}</option>)}
      </select>
    );
  } else if (field.type === 'text' || field.type === 'object') {
    const json = field.type === 'object';
    control = <textarea {...common} rows={json ? 6 : 5} value={text} spellCheck={!json} className={json ? 'mono' : undefined} onChange={(e) => change(e.target.value)} />;
  } else if (field.type === 'integer' || field.type === 'number') {
    control = (
      // type="text", not "number": a number input reports text it cannot parse as ''
      // (the default would then apply without a word); collectValues says what is wrong.
      <input type="text" inputMode={field.type === 'integer' ? 'numeric' : 'decimal'} autoComplete="off" {...common} value={text} onChange={(e) => change(e.target.value)} />
    );
  } else {
    control = <input type={INPUT_TYPES[field.type] ?? 'text'} autoComplete={field.type === 'password' ? 'new-password' : field.type === 'email' ? 'email' : 'off'} {...common} value={text} onChange={(e) => change(e.target.value)} />;
  }
  if (rowLabel !== undefined) {
    const hint = boundsHint(field);
    return (
      <div className={`field list-row${error ? ' has-error' : ''}`}>
        <div className="list-row-input">
          {control}
          {remove}
        </div>
        {hint && <span className="hint">{hint}</span>}
        <ErrorText id={errorId} error={error} />
      </div>
    );
  }
  const hint = boundsHint(field);
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={id} id={`${id}-label`}>
        {field.label}
        {field.required && <RequiredMark />}
        {hint && <span className="hint"> {hint}</span>}
      </label>
      {control}
      <ErrorText id={errorId} error={error} />
    </div>
  );
}
