import { describe, expect, it } from 'vitest';
import { boundsHint, collectValues, errorsByField, fieldsForRequest, fieldsFromSchema, initialValues, setAt } from './fields';
import type { RawValues } from './values';

// What pydantic's model_json_schema() gives for:
//   class Line(BaseModel): sku: str = Field(min_length=2); qty: int = Field(gt=0)
//   class Address(BaseModel): street: str; city: str
//   class Order(BaseModel):
//       nums: list[int]; lines: list[Line] = []; ship_to: Address; bill_to: Address | None = None
//       tone: Tone  (an enum, no default); note: str = ''
const order = {
  $defs: {
    Address: {
      properties: { street: { title: 'Street', type: 'string' }, city: { title: 'City', type: 'string' } },
      required: ['street', 'city'], title: 'Address', type: 'object',
    },
    Line: {
      properties: {
        sku: { minLength: 2, title: 'Sku', type: 'string' },
        qty: { exclusiveMinimum: 0, title: 'Qty', type: 'integer' },
      },
      required: ['sku', 'qty'], title: 'Line', type: 'object',
    },
    Tone: { enum: ['formal', 'friendly'], title: 'Tone', type: 'string' },
  },
  properties: {
    nums: { items: { type: 'integer' }, minItems: 1, title: 'Nums', type: 'array' },
    lines: { default: [], items: { $ref: '#/$defs/Line' }, title: 'Lines', type: 'array' },
    ship_to: { $ref: '#/$defs/Address' },
    bill_to: { anyOf: [{ $ref: '#/$defs/Address' }, { type: 'null' }], default: null },
    tone: { $ref: '#/$defs/Tone' },
    note: { default: '', title: 'Note', type: 'string' },
  },
  required: ['nums', 'ship_to', 'tone'],
  title: 'Order',
  type: 'object',
};

const fields = fieldsFromSchema(order);
const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

describe('the field model of lists and nested models', () => {
  it('gives lists a row field and nested models their fields, through $refs', () => {
    expect(byName.nums).toMatchObject({ type: 'list', required: true, minLength: 1, item: { type: 'integer' } });
    expect(byName.lines?.item?.fields?.map((f) => [f.name, f.type, f.required])).toEqual([
      ['sku', 'string', true], ['qty', 'integer', true],
    ]);
    expect(byName.lines?.item?.fields?.[1]).toMatchObject({ exclusiveMinimum: 0 });
    expect(byName.ship_to?.fields?.map((f) => f.name)).toEqual(['street', 'city']);
    expect(byName.bill_to).toMatchObject({ type: 'object', required: false });
  });

  it('labels a nested model after its field, not its class', () => {
    expect(byName.ship_to?.label).toBe('Ship to');
    expect(byName.tone?.label).toBe('Tone');
  });

  it('prefers the schema to the flat field list, which cannot describe parts', () => {
    const fromRequest = fieldsForRequest({
      fields: [{ name: 'nums', description: 'Nums', type: 'list', item_type: 'integer', required: true }],
      schema: order,
    });
    expect(fromRequest.map((f) => f.name)).toEqual(fields.map((f) => f.name));
    const flat = fieldsForRequest({ fields: [{ name: 'nums', description: 'Nums', type: 'list', item_type: 'integer', required: true }] });
    expect(flat[0]).toMatchObject({ type: 'list', item: { type: 'integer' } });
  });

  it('a model that contains itself ends in a JSON box instead of recursing for ever', () => {
    const tree = fieldsFromSchema({
      $defs: { Node: { properties: { name: { type: 'string' }, kids: { items: { $ref: '#/$defs/Node' }, type: 'array' } }, type: 'object' } },
      properties: { root: { $ref: '#/$defs/Node' } },
      type: 'object',
    });
    const kid = tree[0]?.fields?.[1]?.item;
    expect(kid).toMatchObject({ type: 'object' });
    expect(kid?.fields).toBeUndefined();
  });
});

describe('a required enum without a default', () => {
  it('starts unset, and submitting it unset is a field error', () => {
    const raw = initialValues(fields);
    expect(raw.tone).toBe('');
    expect(collectValues(fields, raw).errors.tone).toBe('Choose one of the options.');
    expect(collectValues(fields, { ...raw, tone: '1' }).errors.tone).toBeUndefined();
  });
});

describe('sub-form values', () => {
  it('starts a list of values with one empty row, an optional list of models with none', () => {
    const raw = initialValues(fields);
    expect(raw.nums).toEqual(['']);
    expect(raw.lines).toEqual([]);
    expect(raw.ship_to).toEqual({ street: '', city: '' });
  });

  it('collects rows and nested fields as typed JSON; a blank optional model is left out', () => {
    let raw: RawValues = initialValues(fields);
    raw = { ...raw, nums: ['1', ' ', '3'], tone: '0' };
    raw = { ...raw, lines: [{ sku: 'tea', qty: '2' }, { sku: 'milk', qty: '1' }] };
    raw = setAt(setAt(raw, ['ship_to', 'street'], 'Main St 1'), ['ship_to', 'city'], 'Oslo') as RawValues;
    const { values, errors, raw: shown } = collectValues(fields, raw);
    expect(errors).toEqual({});
    expect(values).toEqual({
      nums: [1, 3], lines: [{ sku: 'tea', qty: 2 }, { sku: 'milk', qty: 1 }],
      ship_to: { street: 'Main St 1', city: 'Oslo' }, tone: 'formal',
    });
    // The blank row is gone from the inputs too: rows on screen = rows the hub numbers.
    expect(shown.nums).toEqual(['1', '3']);
  });

  it('reports errors on the sub-field, by path', () => {
    const raw: RawValues = {
      ...initialValues(fields), nums: ['x'], tone: '0',
      lines: [{ sku: 'tea', qty: '1' }, { sku: 't', qty: '0' }],
      bill_to: { street: 'Side St', city: '' },
    };
    expect(collectValues(fields, raw).errors).toEqual({
      'nums.0': 'Enter a number.',
      'lines.1.sku': 'Enter at least 2 characters.',
      'lines.1.qty': 'Must be more than 0.',
      'ship_to.street': 'This field is required.',
      'ship_to.city': 'This field is required.',
      'bill_to.city': 'This field is required.',
    });
  });

  it('a required list with no rows says so on the list', () => {
    const raw: RawValues = { ...initialValues(fields), nums: [' '], tone: '0' };
    expect(collectValues(fields, raw).errors.nums).toBe('Add at least one item.');
  });

  it('starts from initial values over defaults, nested and in rows', () => {
    const raw = initialValues(fields, {
      nums: [4, 5], lines: [{ sku: 'tea', qty: 2 }], ship_to: { street: 'Main St 1' }, tone: 'friendly', unknown: 1,
    });
    expect(raw).toMatchObject({
      nums: ['4', '5'], lines: [{ sku: 'tea', qty: '2' }], ship_to: { street: 'Main St 1', city: '' }, tone: '1', note: '',
    });
    expect('unknown' in raw).toBe(false);
  });
});

describe('the hub’s errors on sub-fields', () => {
  it('land on the deepest field their pydantic path reaches', () => {
    const { byField, other } = errorsByField(fields, {
      'lines.2.qty': 'Input should be greater than 0',
      'value.nums.1': 'Input should be a valid integer',
      'ship_to.city': 'Field required',
      'ship_to.zip': 'Extra inputs are not permitted',
      'note.deeper': 'odd',
      nowhere: 'lost',
    });
    expect(byField).toEqual({
      'lines.2.qty': 'Input should be greater than 0',
      'nums.1': 'Input should be a valid integer',
      'ship_to.city': 'Field required',
      ship_to: 'Extra inputs are not permitted',
      note: 'Odd',
    });
    expect(other).toEqual(['nowhere: lost']);
  });
});

describe('hints say what the bounds are', () => {
  const hint = (prop: Record<string, unknown>): string | null => {
    const [field] = fieldsFromSchema({ properties: { v: prop }, type: 'object' });
    return field ? boundsHint(field) : null;
  };

  it('gt is "more than", ge "at least", lt "less than", le "at most"', () => {
    expect(hint({ type: 'integer', exclusiveMinimum: 0 })).toBe('(more than 0)');
    expect(hint({ type: 'integer', minimum: 0 })).toBe('(at least 0)');
    expect(hint({ type: 'number', exclusiveMaximum: 1 })).toBe('(less than 1)');
    expect(hint({ type: 'number', maximum: 1 })).toBe('(at most 1)');
    expect(hint({ type: 'integer', minimum: 1, maximum: 10 })).toBe('(1–10)');
    expect(hint({ type: 'number', minimum: 0, exclusiveMaximum: 1 })).toBe('(at least 0, less than 1)');
    expect(hint({ type: 'integer', exclusiveMinimum: 0, multipleOf: 5 })).toBe('(more than 0, a multiple of 5)');
  });

  it('lengths count characters of text and items of lists', () => {
    expect(hint({ type: 'string', minLength: 3, maxLength: 6 })).toBe('(3–6 characters)');
    expect(hint({ type: 'string', maxLength: 1 })).toBe('(at most 1 character)');
    expect(hint({ type: 'string', minLength: 1 })).toBeNull(); // a required mark says as much
    expect(hint({ type: 'string', minLength: 2 })).toBe('(at least 2 characters)');
    expect(hint({ type: 'array', items: { type: 'integer' }, minItems: 1 })).toBe('(at least 1 item)');
    expect(hint({ type: 'array', items: { type: 'string' }, maxItems: 3 })).toBe('(at most 3 items)');
    expect(hint({ type: 'string' })).toBeNull();
  });

  it('the browser refuses what the bound refuses, in the same words', () => {
    const [field] = fieldsFromSchema({ properties: { v: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, multipleOf: 0.25 } }, required: ['v'], type: 'object' });
    const fs = field ? [field] : [];
    expect(collectValues(fs, { v: '0' }).errors.v).toBe('Must be more than 0.');
    expect(collectValues(fs, { v: '1' }).errors.v).toBe('Must be less than 1.');
    expect(collectValues(fs, { v: '0.3' }).errors.v).toBe('Must be a multiple of 0.25.');
    expect(collectValues(fs, { v: '0.75' }).values).toEqual({ v: 0.75 });
  });
});
