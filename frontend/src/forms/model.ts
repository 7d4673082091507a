// The form model: a request's JSON Schema (from pydantic) or its field list -> a tree of
// form fields. Lists get one `item` field per row, nested models their own `fields`.
// No React here.
import type { FieldSpec } from '../protocol';

export type FieldType = FieldSpec['type'];

/** JSON Schema's bounds: `minimum`/`maximum` include the bound, the exclusive ones do
 * not (pydantic's gt/lt); lengths count characters of text and items of lists. */
export interface Bounds {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
}

export interface FormField extends Bounds {
  name: string;
  label: string;
  type: FieldType;
  required: boolean;
  default?: unknown;
  enum?: readonly unknown[];
  /** Lists (`list`, `string_list`): the field of one row. */
  item?: FormField;
  /** Nested models: their fields, shown as a fieldset. */
  fields?: readonly FormField[];
}

type Schema = Record<string, unknown>;

const FORMATS: Record<string, FieldType> = {
  email: 'email',
  date: 'date',
  'date-time': 'datetime',
  time: 'time',
  password: 'password',
  textarea: 'text',
};

export function obj(value: unknown): Schema {
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

function labelFor(name: string, description: string | undefined): string {
  return description && description !== name ? description : humanize(name);
}

/** `X | None` is anyOf [X, null]; enums and models are $refs into $defs: show the X.
 * A definition's title is its class name, not the field's label, so it is dropped.
 * `seen` holds the $refs on the way here: a model that contains itself ends in a JSON box. */
function unwrap(prop: Schema, root: Schema, seen: ReadonlySet<string>): { prop: Schema; seen: ReadonlySet<string>; cycle: boolean } {
  let merged: Schema = { ...prop };
  const variants = Array.isArray(prop.anyOf) ? prop.anyOf.map(obj).filter((v) => v.type !== 'null') : [];
  if (variants.length === 1 && variants[0]) {
    delete merged.anyOf;
    merged = { ...variants[0], ...merged };
  }
  const ref = str(merged.$ref);
  if (!ref?.startsWith('#/$defs/')) return { prop: merged, seen, cycle: false };
  delete merged.$ref;
  if (seen.has(ref)) return { prop: { type: 'object', ...merged }, seen, cycle: true };
  const { title: _className, ...target } = obj(obj(root.$defs)[ref.slice('#/$defs/'.length)]);
  return { prop: { ...target, ...merged }, seen: new Set([...seen, ref]), cycle: false };
}

function fieldType(prop: Schema): FieldType {
  const type = prop.type;
  if (type === 'string') return FORMATS[str(prop.format) ?? ''] ?? 'string';
  if (type === 'integer' || type === 'number' || type === 'boolean') return type;
  if (type === 'array') return obj(prop.items).type === 'string' ? 'string_list' : 'list';
  if (Array.isArray(prop.enum)) return 'string';
  return 'object';
}

function bounds(prop: Schema, field: FormField): void {
  const array = prop.type === 'array';
  const set = (key: keyof Bounds, value: unknown): void => {
    const n = num(value);
    if (n !== undefined) field[key] = n;
  };
  set('minimum', prop.minimum);
  set('maximum', prop.maximum);
  set('exclusiveMinimum', prop.exclusiveMinimum);
  set('exclusiveMaximum', prop.exclusiveMaximum);
  set('multipleOf', prop.multipleOf);
  set('minLength', array ? prop.minItems : prop.minLength);
  set('maxLength', array ? prop.maxItems : prop.maxLength);
}

function fieldFromSchema(name: string, raw: unknown, required: boolean, root: Schema, seen: ReadonlySet<string>): FormField {
  const { prop, seen: inner, cycle } = unwrap(obj(raw), root, seen);
  const field: FormField = {
    name,
    label: labelFor(name, str(prop.description) ?? str(prop.title)),
    type: fieldType(prop),
    required,
  };
  if ('default' in prop) field.default = prop.default;
  if (Array.isArray(prop.enum)) field.enum = prop.enum;
  bounds(prop, field);
  if (field.type === 'list' || field.type === 'string_list') {
    field.item = fieldFromSchema('item', prop.items ?? {}, true, root, inner);
  } else if (field.type === 'object' && !cycle && Object.keys(obj(prop.properties)).length > 0) {
    field.fields = objectFields(prop, root, inner);
  }
  return field;
}

function objectFields(schema: Schema, root: Schema, seen: ReadonlySet<string>): FormField[] {
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === 'string') : []);
  return Object.entries(obj(schema.properties)).map(([name, raw]) => fieldFromSchema(name, raw, required.has(name), root, seen));
}

/** The fields of an object schema, in the schema's order (the hub's `fields_from_schema`),
 * with sub-fields for lists and nested models. */
export function fieldsFromSchema(schema: Schema): FormField[] {
  return objectFields(schema, schema, new Set());
}

/** A field of a request's flat field list (used when it has no schema). */
function fieldFromSpec(f: FieldSpec): FormField {
  const field: FormField = { name: f.name, label: labelFor(f.name, f.description), type: f.type, required: f.required };
  if (f.default !== undefined && f.default !== null) field.default = f.default;
  if (f.enum) field.enum = f.enum;
  const pairs: [keyof Bounds, number | null | undefined][] = [
    ['minimum', f.minimum], ['maximum', f.maximum], ['exclusiveMinimum', f.exclusive_minimum],
    ['exclusiveMaximum', f.exclusive_maximum], ['multipleOf', f.multiple_of],
    ['minLength', f.min_length], ['maxLength', f.max_length],
  ];
  for (const [key, value] of pairs) if (value !== undefined && value !== null) field[key] = value;
  if (f.type === 'string_list') field.item = { name: 'item', label: 'Item', type: 'string', required: true };
  if (f.type === 'list') field.item = { name: 'item', label: 'Item', type: f.item_type ?? 'object', required: true };
  return field;
}

/** A request's form: from its `schema` when it describes fields (it also describes
 * their parts), else from its flat `fields`. */
export function fieldsForRequest(request: { fields?: FieldSpec[] | null; schema?: Schema | null }): FormField[] {
  if (request.schema && Object.keys(obj(request.schema.properties)).length > 0) return fieldsFromSchema(request.schema);
  return (request.fields ?? []).map(fieldFromSpec);
}
