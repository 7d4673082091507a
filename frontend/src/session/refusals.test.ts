import { describe, expect, it } from 'vitest';
import { problemOf } from '../components/RequestDialog';
import { problemText, refusalText } from './refusals';

describe('a refusal', () => {
  it('says who may, instead of a generic error', () => {
    expect(refusalText('forbidden', 'answer')).toContain('may not answer this request');
    expect(refusalText('forbidden', 'cancel')).toBe('Only the session’s owner or an admin may cancel it.');
    expect(problemText('forbidden', 'You may watch this session but not answer it.', 'answer', 'x')).toBe(refusalText('forbidden', 'answer'));
  });
  it('is only the forbidden code', () => {
    expect(refusalText('invalid_value', 'answer')).toBeNull();
    expect(refusalText(undefined, 'answer')).toBeNull();
  });
  it('falls back to the hub’s message, then to the caller’s words', () => {
    expect(problemText('conflict', 'Already done.', 'share', 'Could not share.')).toBe('Already done.');
    expect(problemText(undefined, undefined, 'share', 'Could not share.')).toBe('Could not share.');
    expect(problemText('forbidden', undefined, 'share', 'Could not share.')).toContain('may share it');
  });
});

describe('an answer form’s problem', () => {
  it('explains a forbidden answer (HTTP 403 or a WS error frame: both arrive as the outcome’s code)', () => {
    const problem = problemOf({ ok: false, code: 'forbidden', message: 'forbidden' });
    expect(problem?.message).toContain('may not answer this request');
  });
  it('shows field errors and the hub’s message for other refusals, nothing when taken', () => {
    expect(problemOf({ ok: false, code: 'invalid_value', message: 'Check the form.', fields: { a: 'required' } }))
      .toEqual({ message: 'Check the form.', fields: { a: 'required' } });
    expect(problemOf({ ok: false, code: 'already_answered', message: 'x' })).toBeUndefined();
    expect(problemOf({ ok: true })).toBeUndefined();
  });
});
