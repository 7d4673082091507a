// The form generator, in parts: `model` (schema -> fields), `values` (inputs -> JSON),
// `errors` (the hub's errors -> fields), `hints` (bounds in words). This module gathers
// what the components use.
export { type Bounds, type FieldType, type FormField, fieldsForRequest, fieldsFromSchema, humanize } from './model';
export {
  type FieldErrors, type RawGroup, type RawList, type RawValue, type RawValues,
  collectValues, emptyRow, initialValues, isGroupField, isListField, setAt,
} from './values';
export { errorsByField, formPath } from './errors';
export { boundsHint } from './hints';
