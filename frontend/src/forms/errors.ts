// The hub's field errors ({"lines.2.qty": "message"}, pydantic's `loc` joined with dots)
// sorted onto the form: each on the deepest field of the form its path reaches. No React.
import type { FormField } from './model';
import type { FieldErrors } from './values';
import { isGroupField, isListField } from './values';

/** The path of the form field `parts` lead to, or null when they name no field. The
 * start endpoint may prefix paths with "inputs", an answer with "value" or "values":
 * leading parts that name no top-level field are skipped. */
export function formPath(fields: readonly FormField[], parts: readonly string[]): string | null {
  const start = parts.findIndex((p) => fields.some((f) => f.name === p));
  if (start < 0) return null;
  let field = fields.find((f) => f.name === parts[start]);
  const path = [parts[start] ?? ''];
  for (const part of parts.slice(start + 1)) {
    if (field === undefined) break;
    if (isListField(field) && /^\d+$/.test(part)) field = field.item;
    else if (isGroupField(field)) field = field.fields.find((f) => f.name === part);
    else break;
    if (field === undefined) break;
    path.push(part);
  }
  return path.join('.');
}

/** Sort the hub's errors onto the form's fields (by path); what matches no field is
 * returned apart, to show above the form. */
export function errorsByField(fields: readonly FormField[], server: Readonly<Record<string, string>>): { byField: FieldErrors; other: string[] } {
  const byField: FieldErrors = {};
  const other: string[] = [];
  for (const [path, message] of Object.entries(server)) {
    const at = formPath(fields, path.split('.'));
    if (at !== null) byField[at] ??= cleanMessage(message);
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
