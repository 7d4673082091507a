import { describe, expect, it } from 'vitest';
import { age, countdown } from './time';

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
