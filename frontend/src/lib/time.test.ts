import { describe, expect, it } from 'vitest';
import { age, countdown, formatDuration, sessionDuration } from './time';

describe('countdown', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');
  it('shows minutes and seconds, and hours past an hour', () => {
    expect(countdown('2026-11-21T10:04:05Z', now)).toBe('4:05');
    expect(countdown('2026-11-21T11:02:03Z', now)).toBe('1:02:03');
    expect(countdown('2026-11-21T10:00:00.200Z', now)).toBe('0:01');
  });
  it('is null once the time has passed', () => {
    expect(countdown('2026-11-21T10:00:00Z', now)).toBeNull();
    expect(countdown('not a date', now)).toBeNull();
  });
});

describe('age', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');
  it('reads like people talk', () => {
    expect(age('2026-11-21T09:59:50Z', now)).toBe('just now');
    expect(age('2026-11-21T09:55:00Z', now)).toBe('5 min ago');
    expect(age('2026-11-21T07:00:00Z', now)).toBe('3 h ago');
    expect(age('2026-11-20T10:00:00Z', now)).toBe('1 day ago');
  });
});

describe('durations', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');
  const session = (status: string, created: string, updated = created) => ({ status, created_at: created, updated_at: updated });
  it('read short and round down', () => {
    expect(formatDuration(400)).toBe('under a second');
    expect(formatDuration(12_900)).toBe('12 s');
    expect(formatDuration(3 * 60_000 + 5_000)).toBe('3 min');
    expect(formatDuration(65 * 60_000)).toBe('1 h 5 min');
    expect(formatDuration(2 * 3_600_000)).toBe('2 h');
    expect(formatDuration(51 * 3_600_000)).toBe('2 days 3 h');
  });
  it('say "took" for a finished session and "running for" for a live one', () => {
    expect(sessionDuration(session('completed', '2026-11-21T09:00:00Z', '2026-11-21T09:00:12Z'), now)).toBe('took 12 s');
    expect(sessionDuration(session('failed', '2026-11-21T09:00:00Z', '2026-11-21T09:03:00Z'), now)).toBe('took 3 min');
    expect(sessionDuration(session('waiting', '2026-11-21T09:57:00Z'), now)).toBe('running for 3 min');
    expect(sessionDuration(session('pending', '2026-11-21T09:59:50Z'), now)).toBe('queued for 10 s');
  });
});
