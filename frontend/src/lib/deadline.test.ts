import { describe, expect, it } from 'vitest';
import type { Request } from '../protocol';
import { dueIn, reminder, span, waited } from './deadline';

const now = Date.parse('2026-11-21T10:00:00Z');
const at = (minutes: number): string => new Date(now + minutes * 60_000).toISOString();

describe('deadlines', () => {
  it('read as a span, minutes rounded up', () => {
    expect(span(30_000)).toBe('under a minute');
    expect(span(90_000)).toBe('2 min');
    expect(span(59 * 60_000)).toBe('59 min');
    expect(span(80 * 60_000)).toBe('1 h 20 min');
    expect(span(120 * 60_000)).toBe('2 h');
    expect(span(5 * 60 * 60_000 + 20 * 60_000)).toBe('5 h');
    expect(span(24 * 60 * 60_000)).toBe('1 day');
    expect(span(50 * 60 * 60_000)).toBe('2 days');
  });

  it('are due soon within the hour, overdue once passed', () => {
    expect(dueIn(at(120), now)).toEqual({ text: 'due in 2 h', urgency: 'later' });
    expect(dueIn(at(61), now)?.urgency).toBe('later');
    expect(dueIn(at(60), now)).toEqual({ text: 'due in 1 h', urgency: 'soon' });
    expect(dueIn(at(5), now)).toEqual({ text: 'due in 5 min', urgency: 'soon' });
    expect(dueIn(at(0), now)).toEqual({ text: 'overdue', urgency: 'overdue' });
    expect(dueIn(at(-3), now)?.urgency).toBe('overdue');
  });

  it('are absent without a valid expires_at', () => {
    expect(dueIn(undefined, now)).toBeNull();
    expect(dueIn(null, now)).toBeNull();
    expect(dueIn('soon', now)).toBeNull();
  });

  it('say how long an item has waited, rounded down', () => {
    expect(waited(at(-0.5), now)).toBe('just asked');
    expect(waited(at(-25.9), now)).toBe('waiting 25 min');
    expect(waited(at(-180), now)).toBe('waiting 3 h');
    expect(waited('garbage', now)).toBe('');
  });
});

describe('reminders', () => {
  const request: Request = { request_id: 'r', kind: 'confirm', prompt: 'Approve?', created_at: at(-90) };

  it('are shown only when the request carries them', () => {
    expect(reminder(request, now)).toBeNull();
    expect(reminder({ ...request, remind_at: null, reminded_at: null }, now)).toBeNull();
    expect(reminder({ ...request, remind_at: 'not a time' }, now)).toBeNull();
  });

  it('say when one is coming or when one went out', () => {
    expect(reminder({ ...request, remind_at: at(20) }, now)).toBe('reminder in 20 min');
    expect(reminder({ ...request, remind_at: at(-1) }, now)).toBe('reminder due');
    expect(reminder({ ...request, remind_at: at(-10), reminded_at: at(-5) }, now)).toBe('reminded 5 min ago');
    expect(reminder({ ...request, reminded_at: at(-0.2) }, now)).toBe('reminded just now');
  });
});
