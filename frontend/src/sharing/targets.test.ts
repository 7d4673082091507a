import { describe, expect, it } from 'vitest';
import { parseShareTarget, targetLabel } from './targets';

describe('a share target as typed', () => {
  it('keeps user: and group: targets as they are', () => {
    expect(parseShareTarget('user:bob')).toEqual({ ok: true, with: 'user:bob' });
    expect(parseShareTarget('group:finance')).toEqual({ ok: true, with: 'group:finance' });
  });
  it('reads a bare name as a user, trimmed', () => {
    expect(parseShareTarget('  bob ')).toEqual({ ok: true, with: 'user:bob' });
    expect(parseShareTarget('j.smith')).toEqual({ ok: true, with: 'user:j.smith' });
  });
  it('refuses what cannot name anyone, saying how to write it', () => {
    for (const bad of ['', '   ', 'user:', 'group:', 'team:x', 'bob smith']) {
      const parsed = parseShareTarget(bad);
      expect(parsed.ok, bad).toBe(false);
      if (!parsed.ok) expect(parsed.message.length).toBeGreaterThan(0);
    }
    const prefixOnly = parseShareTarget('group:');
    expect(!prefixOnly.ok && prefixOnly.message).toContain('group:');
  });
  it('is labelled for people', () => {
    expect(targetLabel('user:bob')).toBe('bob');
    expect(targetLabel('group:finance')).toBe('group finance');
  });
});
