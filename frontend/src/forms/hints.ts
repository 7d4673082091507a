// What a field's bounds say in words, for its label ("more than 0") and for the error
// the browser shows before the hub would ("Must be more than 0."). No React here.
import type { FormField } from './model';

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The bounds of a number as a phrase: "1–10", "more than 0", "at least 1, less than 5". */
function numberHint(f: FormField): string[] {
  const parts: string[] = [];
  if (f.minimum !== undefined && f.maximum !== undefined) parts.push(`${f.minimum}–${f.maximum}`);
  else {
    if (f.exclusiveMinimum !== undefined) parts.push(`more than ${f.exclusiveMinimum}`);
    else if (f.minimum !== undefined) parts.push(`at least ${f.minimum}`);
    if (f.exclusiveMaximum !== undefined) parts.push(`less than ${f.exclusiveMaximum}`);
    else if (f.maximum !== undefined) parts.push(`at most ${f.maximum}`);
  }
  if (f.multipleOf !== undefined) parts.push(`a multiple of ${f.multipleOf}`);
  return parts;
}

function lengthHint(f: FormField, one: string, many: string, minWorthSaying = 0): string[] {
  const { minLength: min, maxLength: max } = f;
  if (min !== undefined && max !== undefined) return [min === max ? plural(min, one, many) : `${min}–${max} ${many}`];
  if (min !== undefined && min > minWorthSaying) return [`at least ${plural(min, one, many)}`];
  if (max !== undefined) return [`at most ${plural(max, one, many)}`];
  return [];
}

/** The hint shown after a field's label, e.g. "(more than 0)"; null when it has no bounds. */
export function boundsHint(f: FormField): string | null {
  let parts: string[] = [];
  if (f.type === 'integer' || f.type === 'number') parts = numberHint(f);
  else if (f.type === 'list' || f.type === 'string_list') parts = lengthHint(f, 'item', 'items');
  // "at least 1 character" only repeats what a required mark says.
  else if (!f.enum && f.type !== 'boolean' && f.type !== 'object') parts = lengthHint(f, 'character', 'characters', 1);
  return parts.length > 0 ? `(${parts.join(', ')})` : null;
}

/** The first bound the number `n` breaks, as an error message; null when it keeps them all. */
export function numberError(f: FormField, n: number): string | null {
  if (f.minimum !== undefined && n < f.minimum) return `Must be at least ${f.minimum}.`;
  if (f.exclusiveMinimum !== undefined && n <= f.exclusiveMinimum) return `Must be more than ${f.exclusiveMinimum}.`;
  if (f.maximum !== undefined && n > f.maximum) return `Must be at most ${f.maximum}.`;
  if (f.exclusiveMaximum !== undefined && n >= f.exclusiveMaximum) return `Must be less than ${f.exclusiveMaximum}.`;
  if (f.multipleOf !== undefined && f.multipleOf > 0) {
    const ratio = n / f.multipleOf;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9) return `Must be a multiple of ${f.multipleOf}.`;
  }
  return null;
}

/** The length bound `count` (characters of text, items of a list) breaks; else null. */
export function lengthError(
  f: FormField, count: number, one: string, many: string, [least, most]: readonly [string, string] = ['Enter at least', 'Enter at most'],
): string | null {
  if (f.minLength !== undefined && count < f.minLength) return `${least} ${plural(f.minLength, one, many)}.`;
  if (f.maxLength !== undefined && count > f.maxLength) return `${most} ${plural(f.maxLength, one, many)}.`;
  return null;
}
