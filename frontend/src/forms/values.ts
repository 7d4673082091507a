// What a form's inputs hold, and how that becomes the JSON the hub validates. No React.
//
// Inputs hold text (most fields), a flag (checkboxes), rows (lists) or a group of named
// values (nested models). A value's place in the form is its path: the field names and
// row indexes from the top, joined with dots ("lines.2.qty"), as pydantic's `loc`.
import { lengthError, numberError } from './hints';
import type { FormField } from './model';

export type RawValue = string | boolean | RawList | RawGroup;
export type RawList = readonly RawValue[];
export interface RawGroup {
  readonly [name: string]: RawValue;
}
export type RawValues = RawGroup;
export type FieldErrors = Record<string, string>;

export function isGroup(value: RawValue | undefined): value is RawGroup {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isList(value: RawValue | undefined): value is RawList {
  return Array.isArray(value);
}

export function isListField(f: FormField): f is FormField & { item: FormField } {
  return f.item !== undefined && (f.type === 'list' || f.type === 'string_list');
}

export function isGroupField(f: FormField): f is FormField & { fields: readonly FormField[] } {
  return f.fields !== undefined && f.type === 'object';
}

// --- starting values ---------------------------------------------------------------------

/** One field's starting input: `start` (an initial value or the default) filled in. */
export function startValue(f: FormField, start: unknown): RawValue {
  if (isGroupField(f)) return initialValues(f.fields, start);
  if (isListField(f)) {
    if (Array.isArray(start)) return start.map((v: unknown) => startValue(f.item, v));
    // A list of values starts with one empty row to type in (an empty row sends
    // nothing); a list of models with one only when it is required (an empty model row
    // would be refused).
    return f.required || !isGroupField(f.item) ? [startValue(f.item, undefined)] : [];
  }
  if (f.type === 'boolean') return start === true;
  if (f.enum) {
    // A required enum with no default starts unset ("Choose…"): one click must not
    // approve an option nobody picked.
    const index = start === undefined || start === null ? -1 : f.enum.findIndex((v) => v === start);
    return index >= 0 ? String(index) : '';
  }
  if (start === undefined || start === null) return '';
  if (f.type === 'object') return JSON.stringify(start, null, 2);
  if (f.type === 'datetime' && typeof start === 'string') return start.slice(0, 16);
  return typeof start === 'object' ? JSON.stringify(start) : String(start);
}

/** The inputs' starting contents: `initial` values where given (`ctx.ask(initial=)`,
 * a fork's earlier answer), else defaults. */
export function initialValues(fields: readonly FormField[], initial?: unknown): RawValues {
  const given = typeof initial === 'object' && initial !== null && !Array.isArray(initial) ? (initial as Record<string, unknown>) : {};
  const raw: Record<string, RawValue> = {};
  for (const f of fields) raw[f.name] = startValue(f, f.name in given ? given[f.name] : f.default);
  return raw;
}

/** An empty row to add to a list. */
export function emptyRow(list: FormField & { item: FormField }): RawValue {
  return startValue(list.item, undefined);
}

// --- reading values back -----------------------------------------------------------------

/** Nothing typed in: no text, no rows (flags do not count: they always hold a value). */
export function isBlank(value: RawValue | undefined): boolean {
  if (value === undefined || typeof value === 'boolean') return true;
  if (typeof value === 'string') return value.trim() === '';
  if (isList(value)) return value.length === 0;
  return Object.values(value).every(isBlank);
}

/** Rows of scalar lists that hold nothing are left out: they are dropped from the
 * inputs too, so the hub's row numbers are the rows on screen. */
function compactList(f: FormField & { item: FormField }, rows: RawList): RawList {
  if (isGroupField(f.item) || isListField(f.item)) return rows.map((r) => compact(f.item, r));
  return rows.map((r) => (typeof r === 'string' ? r.trim() : r)).filter((r) => r !== '');
}

function compact(f: FormField, value: RawValue): RawValue {
  if (isListField(f) && isList(value)) return compactList(f, value);
  if (isGroupField(f) && isGroup(value)) return compactGroup(f.fields, value);
  return value;
}

function compactGroup(fields: readonly FormField[], raw: RawGroup): RawGroup {
  const out: Record<string, RawValue> = { ...raw };
  for (const f of fields) {
    const value = raw[f.name];
    if (value !== undefined) out[f.name] = compact(f, value);
  }
  return out;
}

type Collected = { ok: true; value: unknown } | { ok: false };
const SKIP: Collected = { ok: false };

function collectOne(f: FormField, input: RawValue | undefined, path: string, errors: FieldErrors): Collected {
  if (isGroupField(f)) {
    const group = isGroup(input) ? input : {};
    // An optional nested model left blank is left out (its default applies).
    if (!f.required && isBlank(group)) return SKIP;
    return { ok: true, value: collectGroup(f.fields, group, `${path}.`, errors) };
  }
  if (isListField(f)) {
    const rows = isList(input) ? input : [];
    if (f.required && rows.length === 0) {
      errors[path] = 'Add at least one item.';
      return SKIP;
    }
    if (!f.required && rows.length === 0) return SKIP;
    const problem = lengthError(f, rows.length, 'item', 'items', ['Add at least', 'Keep at most']);
    if (problem) errors[path] = problem;
    const values = rows.map((row, i) => collectOne(f.item, row, `${path}.${i}`, errors));
    return { ok: true, value: values.map((v) => (v.ok ? v.value : null)) };
  }
  if (f.type === 'boolean') return { ok: true, value: input === true };
  const text = typeof input === 'string' ? input : '';
  if (text.trim() === '') {
    if (f.required) errors[path] = f.enum ? 'Choose one of the options.' : 'This field is required.';
    return SKIP; // optional and empty: the default applies
  }
  if (f.enum) {
    const choice = f.enum[Number(text)];
    if (choice === undefined) {
      errors[path] = 'Choose one of the options.';
      return SKIP;
    }
    return { ok: true, value: choice };
  }
  switch (f.type) {
    case 'integer':
    case 'number': {
      const n = Number(text.trim());
      const problem = !Number.isFinite(n) ? 'Enter a number.'
        : f.type === 'integer' && !Number.isInteger(n) ? 'Enter a whole number.'
        : numberError(f, n);
      if (problem) {
        errors[path] = problem;
        return SKIP;
      }
      return { ok: true, value: n };
    }
    case 'object':
      try {
        return { ok: true, value: JSON.parse(text) as unknown };
      } catch {
        errors[path] = 'Enter valid JSON.';
        return SKIP;
      }
    default: {
      const problem = lengthError(f, [...text].length, 'character', 'characters');
      if (problem) errors[path] = problem;
      return { ok: true, value: text };
    }
  }
}

function collectGroup(fields: readonly FormField[], raw: RawGroup, prefix: string, errors: FieldErrors): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const f of fields) {
    const got = collectOne(f, raw[f.name], `${prefix}${f.name}`, errors);
    if (got.ok) values[f.name] = got.value;
  }
  return values;
}

/** Turn the inputs into the JSON the hub expects; errors (by path) are what the browser
 * can tell already (required, numbers and their bounds, lengths, JSON); the hub checks
 * the rest. `raw` is the inputs with empty list rows dropped: show that, so the rows on
 * screen are the rows the hub numbers in its errors. */
export function collectValues(fields: readonly FormField[], input: RawValues): { values: Record<string, unknown>; errors: FieldErrors; raw: RawValues } {
  const raw = compactGroup(fields, input);
  const errors: FieldErrors = {};
  const values = collectGroup(fields, raw, '', errors);
  return { values, errors, raw };
}

// --- changing one input ------------------------------------------------------------------

/** `root` with the value at `path` (names and row indexes) replaced by `value`. */
export function setAt(root: RawValue, path: readonly string[], value: RawValue): RawValue {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (isList(root)) {
    const index = Number(head);
    return root.map((row, i) => (i === index ? setAt(row, rest, value) : row));
  }
  const group = isGroup(root) ? root : {};
  return { ...group, [head]: setAt(group[head] ?? '', rest, value) };
}
