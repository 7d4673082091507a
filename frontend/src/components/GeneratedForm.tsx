import { type FormEvent, type ReactNode, useEffect, useId, useRef, useState } from 'react';
import {
  type FieldErrors, type FormField, type RawValue, type RawValues,
  collectValues, errorsByField, initialValues, setAt,
} from '../forms/fields';
import { isGroup } from '../forms/values';
import { FieldsView, type Path, pathKey } from './FormFields';

export interface SubmitProblem {
  message?: string;
  fields?: Readonly<Record<string, string>>;
}

interface Props {
  fields: readonly FormField[];
  submitLabel: string;
  /** Resolves with the hub's objections, or nothing when it accepted. */
  onSubmit: (values: Record<string, unknown>) => Promise<SubmitProblem | undefined>;
  /** Values the inputs start with instead of the defaults (a request's `initial`). */
  initial?: unknown;
  /** Buttons after the submit button (e.g. Cancel). */
  actions?: ReactNode;
  autoFocus?: boolean;
  compact?: boolean;
}

/** A form generated from fields: labels, defaults, required marks, sub-forms for lists
 * and nested models, and errors next to the (sub-)field they are about. */
export function GeneratedForm({ fields, submitLabel, onSubmit, initial, actions, autoFocus = false, compact = false }: Props) {
  const formId = useId();
  const [raw, setRaw] = useState<RawValues>(() => initialValues(fields, initial));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [focusError, setFocusError] = useState(0);
  const formRef = useRef<HTMLFormElement>(null);
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);

  useEffect(() => {
    if (!autoFocus) return;
    formRef.current?.querySelector<HTMLElement>('input, textarea, select')?.focus();
  }, [autoFocus]);

  // After errors are drawn: focus the first field (in form order) that has one.
  useEffect(() => {
    if (focusError === 0) return;
    const invalid = formRef.current?.querySelector<HTMLElement>('.has-error');
    const target = invalid?.matches('input, select, textarea') ? invalid : invalid?.querySelector<HTMLElement>('input, select, textarea, button');
    target?.focus();
  }, [focusError]);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    const { values, errors: local, raw: shown } = collectValues(fields, raw);
    setRaw(shown); // empty rows dropped: the rows on screen are the rows the hub numbers
    setGeneral([]);
    if (Object.keys(local).length > 0) {
      setErrors(local);
      setFocusError((n) => n + 1);
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
    setFocusError((n) => n + 1);
  };

  const change = (path: Path, value: RawValue): void => {
    setRaw((r) => {
      const next = setAt(r, path, value);
      return isGroup(next) ? next : r;
    });
    // Editing a field clears its error and those of its parts (a removed row's, say).
    const key = pathKey(path);
    setErrors((errs) => {
      const kept = Object.entries(errs).filter(([p]) => p !== key && !p.startsWith(`${key}.`));
      return kept.length === Object.keys(errs).length ? errs : Object.fromEntries(kept);
    });
  };

  return (
    <form ref={formRef} className={compact ? 'gen-form compact' : 'gen-form'} noValidate onSubmit={(e) => void submit(e)} aria-busy={busy}>
      {general.length > 0 && (
        <div className="form-error" role="alert">
          {general.map((m) => <p key={m}>{m}</p>)}
        </div>
      )}
      <FieldsView fields={fields} path={[]} formId={formId} value={raw} errors={errors} onChange={change} />
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
