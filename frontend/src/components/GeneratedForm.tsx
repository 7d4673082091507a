import { type FormEvent, type ReactNode, useEffect, useId, useMemo, useRef, useState } from 'react';
import {
  type FieldErrors, type FormField, type RawValue, type RawValues,
  collectValues, errorsByField, initialValues,
} from '../forms/fields';

export interface SubmitProblem {
  message?: string;
  fields?: Readonly<Record<string, string>>;
}

interface Props {
  fields: readonly FormField[];
  submitLabel: string;
  /** Resolves with the hub's objections, or nothing when it accepted. */
  onSubmit: (values: Record<string, unknown>) => Promise<SubmitProblem | undefined>;
  /** Buttons after the submit button (e.g. Cancel). */
  actions?: ReactNode;
  autoFocus?: boolean;
  compact?: boolean;
}

/** A form generated from fields: labels, defaults, required marks and inline errors. */
export function GeneratedForm({ fields, submitLabel, onSubmit, actions, autoFocus = false, compact = false }: Props) {
  const formId = useId();
  const [raw, setRaw] = useState<RawValues>(() => initialValues(fields));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);

  useEffect(() => {
    if (!autoFocus) return;
    formRef.current?.querySelector<HTMLElement>('input, textarea, select')?.focus();
  }, [autoFocus]);

  const focusFirstError = (found: FieldErrors): void => {
    const first = fields.find((f) => found[f.name]);
    if (first) formRef.current?.querySelector<HTMLElement>(`[data-field="${CSS.escape(first.name)}"]`)?.focus();
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    const { values, errors: local } = collectValues(fields, raw);
    setGeneral([]);
    if (Object.keys(local).length > 0) {
      setErrors(local);
      focusFirstError(local);
      return;
    }
    setErrors({});
    setBusy(true);
    const problem = await onSubmit(values);
    if (!mounted.current) return;
    setBusy(false);
    if (!problem) return;
    const { byField, other } = errorsByField(fields, problem.fields ?? {});
    setErrors(byField);
    const messages = [...other];
    if (Object.keys(byField).length === 0 && problem.message) messages.unshift(problem.message);
    setGeneral(messages);
    focusFirstError(byField);
  };

  const set = (name: string, value: RawValue): void => {
    setRaw((r) => ({ ...r, [name]: value }));
    if (errors[name]) setErrors(({ [name]: _drop, ...rest }) => rest);
  };

  return (
    <form ref={formRef} className={compact ? 'gen-form compact' : 'gen-form'} noValidate onSubmit={(e) => void submit(e)} aria-busy={busy}>
      {general.length > 0 && (
        <div className="form-error" role="alert">
          {general.map((m) => <p key={m}>{m}</p>)}
        </div>
      )}
      {fields.map((f) => (
        <FieldInput key={f.name} field={f} id={`${formId}-${f.name}`} value={raw[f.name] ?? ''} error={errors[f.name]} onChange={(v) => set(f.name, v)} />
      ))}
      {fields.length === 0 && <p className="muted">No inputs needed.</p>}
      <div className="form-actions">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Sending…' : submitLabel}
        </button>
        {actions}
      </div>
    </form>
  );
}

interface FieldProps {
  field: FormField;
  id: string;
  value: RawValue;
  error: string | undefined;
  onChange: (value: RawValue) => void;
}

const INPUT_TYPES: Partial<Record<FormField['type'], string>> = {
  string: 'text', email: 'email', password: 'password', date: 'date', datetime: 'datetime-local', time: 'time',
};

function FieldInput({ field, id, value, error, onChange }: FieldProps) {
  const errorId = `${id}-error`;
  const common = {
    id,
    name: field.name,
    'data-field': field.name,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': error ? errorId : undefined,
    'aria-required': field.required || undefined,
  };
  const text = typeof value === 'string' ? value : '';
  let control: ReactNode;
  if (field.type === 'boolean') {
    return (
      <div className={`field field-check${error ? ' has-error' : ''}`}>
        <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(e.target.checked)} />
        <label htmlFor={id}>{field.label}{field.required && <RequiredMark />}</label>
        {error && <p className="field-error" id={errorId}>{error}</p>}
      </div>
    );
  }
  if (field.enum) {
    control = (
      <select {...common} value={text} onChange={(e) => onChange(e.target.value)}>
        {!field.required && <option value="">—</option>}
        {field.enum.map((option, i) => <option key={String(i)} value={String(i)}>{String(option)}</option>)}
      </select>
    );
  } else if (field.type === 'string_list') {
    control = <ListInput id={id} field={field} items={Array.isArray(value) ? value : []} onChange={onChange} invalid={Boolean(error)} />;
  } else if (field.type === 'text' || field.type === 'object') {
    control = <textarea {...common} rows={field.type === 'object' ? 6 : 5} value={text} spellCheck={field.type === 'text'} className={field.type === 'object' ? 'mono' : undefined} onChange={(e) => onChange(e.target.value)} />;
  } else if (field.type === 'integer' || field.type === 'number') {
    control = (
      // type="text", not "number": a number input reports text it cannot parse as ''
      // (the default would then apply without a word); collectValues says what is wrong.
      <input type="text" inputMode={field.type === 'integer' ? 'numeric' : 'decimal'} autoComplete="off" {...common} value={text} onChange={(e) => onChange(e.target.value)} />
    );
  } else {
    control = <input type={INPUT_TYPES[field.type] ?? 'text'} autoComplete={field.type === 'password' ? 'new-password' : field.type === 'email' ? 'email' : 'off'} {...common} value={text} onChange={(e) => onChange(e.target.value)} />;
  }
  const range = rangeHint(field);
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={id} id={`${id}-label`}>
        {field.label}
        {field.required && <RequiredMark />}
        {range && <span className="hint"> {range}</span>}
      </label>
      {control}
      {error && <p className="field-error" id={errorId}>{error}</p>}
    </div>
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

function rangeHint(field: FormField): string | null {
  const { minimum: min, maximum: max } = field;
  if (min !== undefined && max !== undefined) return `(${min}–${max})`;
  if (min !== undefined) return `(at least ${min})`;
  if (max !== undefined) return `(at most ${max})`;
  return null;
}

function ListInput({ id, field, items, onChange, invalid }: { id: string; field: FormField; items: string[]; onChange: (v: string[]) => void; invalid: boolean }) {
  const rows = useMemo(() => (items.length === 0 ? [''] : items), [items]);
  const setAt = (i: number, v: string): void => onChange(rows.map((r, j) => (j === i ? v : r)));
  return (
    <div className="list-input" role="group" aria-labelledby={`${id}-label`}>
      {rows.map((item, i) => (
        <div className="list-row" key={i}>
          <input
            type="text"
            id={i === 0 ? id : `${id}-${i}`}
            data-field={i === 0 ? field.name : undefined}
            aria-label={i === 0 ? undefined : `${field.label}, item ${i + 1}`}
            aria-invalid={invalid || undefined}
            value={item}
            onChange={(e) => setAt(i, e.target.value)}
          />
          {rows.length > 1 && (
            <button type="button" className="button ghost small" aria-label={`Remove item ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              ✕
            </button>
          )}
        </div>
      ))}
      <button type="button" className="button ghost small" onClick={() => onChange([...rows, ''])}>
        + Add item
      </button>
    </div>
  );
}
