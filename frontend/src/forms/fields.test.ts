import { describe, expect, it } from 'vitest';
import { collectValues, errorsByField, fieldsForRequest, fieldsFromSchema, initialValues } from './fields';

// What pydantic's model_json_schema() produces for a model with every kind of field.
const schema = {
  $defs: { Tone: { enum: ['formal', 'friendly'], title: 'Tone', type: 'string' } },
  properties: {
    subject: { description: 'Subject of the email', minLength: 1, title: 'Subject', type: 'string' },
    body: { description: 'Body of the email', format: 'textarea', title: 'Body', type: 'string' },
    to_address: { format: 'email', title: 'To Address', type: 'string' },
    step_seconds: { default: 0.8, maximum: 60, minimum: 0, title: 'Step Seconds', type: 'number' },
    count: { default: 10, exclusiveMinimum: 0, title: 'Count', type: 'integer' },
    urgent: { default: false, title: 'Urgent', type: 'boolean' },
    tone: { $ref: '#/$defs/Tone', default: 'friendly' },
    when: { anyOf: [{ format: 'date', type: 'string' }, { type: 'null' }], default: null, title: 'When' },
    at: { format: 'date-time', title: 'At', type: 'string' },
    secret: { format: 'password', title: 'Secret', type: 'string', writeOnly: true },
    tags: { items: { type: 'string' }, title: 'Tags', type: 'array' },
    extra: { additionalProperties: true, title: 'Extra', type: 'object' },
  },
  required: ['subject', 'body', 'to_address', 'at', 'secret', 'tags'],
  title: 'Everything',
  type: 'object',
};

describe('fieldsFromSchema', () => {
  const fields = fieldsFromSchema(schema);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

  it('keeps the schema order and maps every type', () => {
    expect(fields.map((f) => [f.name, f.type])).toEqual([
      ['subject', 'string'], ['body', 'text'], ['to_address', 'email'], ['step_seconds', 'number'],
      ['count', 'integer'], ['urgent', 'boolean'], ['tone', 'string'], ['when', 'date'],
      ['at', 'datetime'], ['secret', 'password'], ['tags', 'string_list'], ['extra', 'object'],
    ]);
  });

  it('labels with the description, else the title', () => {
    expect(byName.subject?.label).toBe('Subject of the email');
    expect(byName.to_address?.label).toBe('To Address');
  });

  it('marks required fields, reads defaults, ranges and enums behind $refs', () => {
    expect(fields.filter((f) => f.required).map((f) => f.name)).toEqual(['subject', 'body', 'to_address', 'at', 'secret', 'tags']);
    expect(byName.step_seconds).toMatchObject({ default: 0.8, minimum: 0, maximum: 60 });
    // gt=0 is exclusive: not a minimum of 0 (the form would say "at least 0").
    expect(byName.count).toMatchObject({ exclusiveMinimum: 0 });
    expect(byName.count?.minimum).toBeUndefined();
    expect(byName.tone).toMatchObject({ enum: ['formal', 'friendly'], default: 'friendly' });
  });
});

describe('initialValues and collectValues', () => {
  const fields = fieldsFromSchema(schema);

  it('fills in defaults', () => {
    const raw = initialValues(fields);
    expect(raw).toMatchObject({ step_seconds: '0.8', count: '10', urgent: false, tone: '1', when: '', tags: [''] });
  });

  it('turns inputs into typed JSON and leaves empty optional fields to their defaults', () => {
    const raw = {
      ...initialValues(fields),
      subject: 'Hi', body: 'Hello\nthere', to_address: 'a@b.co', at: '2026-11-21T10:00', secret: 'pw',
      tags: ['a', ' ', 'b '], extra: '{"k": [1]}', urgent: true, tone: '0',
    };
    const { values, errors } = collectValues(fields, raw);
    expect(errors).toEqual({});
    expect(values).toEqual({
      subject: 'Hi', body: 'Hello\nthere', to_address: 'a@b.co', step_seconds: 0.8, count: 10, urgent: true,
      tone: 'formal', at: '2026-11-21T10:00', secret: 'pw', tags: ['a', 'b'], extra: { k: [1] },
    });
    expect('when' in values).toBe(false);
  });

  it('reports what the browser can tell: required, numbers, ranges, JSON', () => {
    const raw = { ...initialValues(fields), step_seconds: '61', count: '2.5', extra: '{nope' };
    const { errors } = collectValues(fields, raw);
    expect(errors).toEqual({
      subject: 'This field is required.', body: 'This field is required.', to_address: 'This field is required.',
      step_seconds: 'Must be at most 60.', count: 'Enter a whole number.', at: 'This field is required.',
      secret: 'This field is required.', tags: 'Add at least one item.', extra: 'Enter valid JSON.',
    });
  });
});

describe('fieldsForRequest', () => {
  it('prefers the request field list and labels with descriptions', () => {
    const fields = fieldsForRequest({
      fields: [{ name: 'q0', description: 'What tone?', type: 'text', required: true }, { name: 'feedback', description: 'feedback', type: 'text', required: false, default: '' }],
      schema: {},
    });
    expect(fields.map((f) => [f.name, f.label, f.required])).toEqual([['q0', 'What tone?', true], ['feedback', 'Feedback', false]]);
  });

  it('falls back to the schema', () => {
    expect(fieldsForRequest({ schema })).toHaveLength(12);
  });
});

describe('errorsByField', () => {
  it('puts the hub’s errors next to their fields and keeps the rest apart', () => {
    const fields = fieldsFromSchema(schema);
    const { byField, other } = errorsByField(fields, {
      to_address: 'value is not a valid email address: An email address must have an @-sign.',
      'inputs.count': 'Input should be greater than 0',
      'tags.1': 'Input should be a valid string',
      __root__: 'Something else',
    });
    expect(byField).toEqual({
      to_address: 'An email address must have an @-sign.',
      count: 'Input should be greater than 0',
      'tags.1': 'Input should be a valid string',
    });
    expect(other).toEqual(['Something else']);
  });
});

describe('odd inputs', () => {
  it('an optional enum whose default is null starts on no choice and sends nothing', () => {
    const fields = fieldsFromSchema({
      $defs: { Color: { enum: ['red', 'blue'], title: 'Color', type: 'string' } },
      properties: { color: { anyOf: [{ $ref: '#/$defs/Color' }, { type: 'null' }], default: null } },
      type: 'object',
    });
    const raw = initialValues(fields);
    expect(raw.color).toBe('');
    expect(collectValues(fields, raw).values).toEqual({});
  });

  it('a number the browser cannot parse is an error, not a silent default', () => {
    const fields = fieldsFromSchema({
      properties: { seconds: { default: 1, title: 'Seconds', type: 'number' } },
      type: 'object',
    });
    const { values, errors } = collectValues(fields, { seconds: '2e' });
    expect(values).toEqual({});
    expect(errors.seconds).toBe('Enter a number.');
  });
});
