// The form generator: JSON Schema (from pydantic) or a request's field list -> form fields,
// and a form's raw input -> the JSON values the hub validates. No React here.
import type { FieldSpec } from '../protocol';

export type FieldType = FieldSpec['type'];

export interface FormField {
  name: string;
  label: string;
  type: FieldType;
  required: boolean;
  default?: unknown;
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
}

/** What the inputs hold: text for most, a flag for checkboxes, rows for lists. */
export type RawValue = string | boolean | string[];
export type RawValues = Record<string, RawValue>;
export type FieldErrors = Record<string, string>;

type Schema = Record<string, unknown>;

const FORMATS: Record<string, FieldType> = {
  email: 'email',
  date: 'date',
  'date-time': 'datetime',
  time: 'time',
  password: 'password',
  textarea: 'text',
};

function obj(value: unknown): Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Schema) : {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** "step_seconds" -> "Step seconds". */
export function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `X | None` is anyOf [X, null]; enums are $refs into $defs: show the X. */
function unwrap(prop: Schema, root: Schema): Schema {
  let merged: Schema = { ...prop };
  const variants = Array.isArray(prop.anyOf) ? prop.anyOf.map(obj).filter((v) => v.type !== 'null') : [];
  if (variants.length === 1 && variants[0]) {
    delete merged.anyOf;
    merged = { ...variants[0], ...merged };
  }
  const ref = str(merged.$ref);
  if (ref?.startsWith('#/$defs/')) {
    delete merged.$ref;
    merged = { ...obj(obj(root.$defs)[ref.slice('#/$defs/'.length)]), ...merged };
  }
  return merged;
}

function fieldType(prop: Schema): FieldType {
  const type = prop.type;
  if (type === 'string') return FORMATS[str(prop.format) ?? ''] ?? 'string';
  if (type === 'integer' || type === 'number' || type === 'boolean') return type;
  if (type === 'array' && obj(prop.items).type === 'string') return 'string_list';
  if (Array.isArray(prop.enum)) return 'string';
  return 'object';
}

function labelFor(name: string, description: string | undefined): string {
  return description && description !== name ? description : humanize(name);
}

/** The fields of an object schema, in the schema's order (the hub's `fields_from_schema`). */
export function fieldsFromSchema(schema: Schema): FormField[] {
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === 'string') : []);
  return Object.entries(obj(schema.properties)).map(([name, raw]) => {
    const prop = unwrap(obj(raw), schema);
    const field: FormField = {
      name,
      label: labelFor(name, str(prop.description) ?? str(prop.title)),
      type: fieldType(prop),
      required: required.has(name),
    };
    if ('default' in prop) field.default = prop.default;
    if (Array.isArray(prop.enum)) field.enum = prop.enum;
    const min = num(prop.minimum) ?? num(prop.exclusiveMinimum);
    const max = num(prop.maximum) ?? num(prop.exclusiveMaximum);
    if (min !== undefined) field.minimum = min;
    if (max !== undefined) field.maximum = max;
    return field;
  });
}

/** A request's form: its `fields` when given, else derived from its `schema`. */
export function fieldsForRequest(request: { fields?: FieldSpec[] | null; schema?: Schema | null }): FormField[] {
  if (request.fields && request.fields.length > 0) {
    return request.fields.map((f) => {
      const field: FormField = { name: f.name, label: labelFor(f.name, f.description), type: f.type, required: f.required };
      if (f.default !== undefined && f.default !== null) field.default = f.default;
      if (f.enum) field.enum = f.enum;
      if (f.minimum !== undefined && f.minimum !== null) field.minimum = f.minimum;
      if (f.maximum !== undefined && f.maximum !== null) field.maximum = f.maximum;
      return field;
    });
  }
  return request.schema ? fieldsFromSchema(request.schema) : [];
}

/** The inputs' starting contents: defaults filled in. */
export function initialValues(fields: readonly FormField[]): RawValues {
  const raw: RawValues = {};
  for (const f of fields) {
    const d = f.default;
    if (f.type === 'boolean') raw[f.name] = d === true;
    else if (f.type === 'string_list') raw[f.name] = Array.isArray(d) ? d.map(String) : [];
    else if (f.enum) {
      const index = d === undefined || d === null ? -1 : f.enum.findIndex((v) => v === d);
      // A default that is an option is chosen; otherwise a required field starts on the
      // first option and an optional one on "no choice", so nothing is sent unasked.
      raw[f.name] = index >= 0 ? String(index) : f.required && f.enum.length > 0 ? '0' : '';
    }
    else if (f.type === 'object') raw[f.name] = d === undefined || d === null ? '' : JSON.stringify(d, null, 2);
    else if (f.type === 'datetime' && typeof d === 'string') raw[f.name] = d.slice(0, 16);
    else raw[f.name] = d === undefined || d === null ? '' : String(d);
  }
  return raw;
}

/** Turn the inputs into the JSON the hub expects; errors are what the browser can tell
 * already (required, not a number, out of range, not JSON); the hub checks the rest. */
export function collectValues(fields: readonly FormField[], raw: RawValues): { values: Record<string, unknown>; errors: FieldErrors } {
  const values: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  for (const f of fields) {
    const input = raw[f.name];
    if (f.type === 'boolean') {
      values[f.name] = input === true;
      continue;
    }
    if (f.type === 'string_list') {
      const items = (Array.isArray(input) ? input : []).map((s) => s.trim()).filter((s) => s !== '');
      if (f.required && items.length === 0) errors[f.name] = 'Add at least one item.';
      else values[f.name] = items;
      continue;
    }
    const text = typeof input === 'string' ? input : '';
    if (text.trim() === '') {
      if (f.required) errors[f.name] = 'This field is required.';
      continue; // optional and empty: the default applies
    }
    if (f.enum) {
      const choice = f.enum[Number(text)];
      if (choice === undefined) errors[f.name] = 'Choose one of the options.';
      else values[f.name] = choice;
      continue;
    }
    switch (f.type) {
      case 'integer':
      case 'number': {
        const n = Number(text.trim());
        if (!Number.isFinite(n)) errors[f.name] = 'Enter a number.';
        else if (f.type === 'integer' && !Number.isInteger(n)) errors[f.name] = 'Enter a whole number.';
        else if (f.minimum !== undefined && n < f.minimum) errors[f.name] = `Must be at least ${f.minimum}.`;
        else if (f.maximum !== undefined && n > f.maximum) errors[f.name] = `Must be at most ${f.maximum}.`;
        else values[f.name] = n;
        break;
      }
      case 'object':
        try {
          values[f.name] = JSON.parse(text) as unknown;
        } catch {
          errors[f.name] = 'Enter valid JSON.';
        }
        break;
      default:
        values[f.name] = text;
    }
  }
  return { values, errors };
}

/** Sort the hub's `{"path.to.field": "message"}` errors onto the form's fields; what
 * matches no field is returned apart, to show above the form. */
export function errorsByField(fields: readonly FormField[], server: Readonly<Record<string, string>>): { byField: FieldErrors; other: string[] } {
  const names = new Set(fields.map((f) => f.name));
  const byField: FieldErrors = {};
  const other: string[] = [];
  for (const [path, message] of Object.entries(server)) {
    const parts = path.split('.');
    // The start endpoint may prefix paths with "inputs"; an answer with "value" or "values".
    const name = parts.find((p) => names.has(p));
    if (name !== undefined) byField[name] ??= cleanMessage(message);
    else other.push(path === '__root__' ? message : `${path}: ${message}`);
  }
  return { byField, other };
}

/** pydantic says "value is not a valid email address: An email address must have an
 * @-sign." — the part after the colon is the useful one. */
function cleanMessage(message: string): string {
  const m = /^value is not a valid [^:]+: (.+)$/.exec(message);
  const text = m?.[1] ?? message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
