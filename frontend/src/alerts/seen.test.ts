// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import type { InboxItem } from '../protocol';
import { diffSeen, readSeen, seenStorageKey, writeSeen } from './seen';

const item = (session: string, request: string): InboxItem => ({
  session_id: session, task: 'expense_approval', title: 'Expense approval', owner: 'user:alice',
  opened_at: '2026-01-01T00:00:00.000Z',
  request: { request_id: request, kind: 'confirm', prompt: 'Approve?', created_at: '2026-01-01T00:00:00.000Z' },
});

describe('seen requests', () => {
  it('count everything listed on first use as seen, so nothing old rings', () => {
    const { fresh, seen } = diffSeen([item('s1', 'a'), item('s2', 'b')], null);
    expect(fresh).toEqual([]);
    expect(seen).toEqual(['s1/a', 's2/b']);
  });

  it('find only what was never seen, in the inbox order', () => {
    const { fresh, seen } = diffSeen([item('s3', 'c'), item('s1', 'a'), item('s2', 'x')], ['s1/a']);
    expect(fresh.map((i) => `${i.session_id}/${i.request.request_id}`)).toEqual(['s3/c', 's2/x']);
    expect(seen).toEqual(['s3/c', 's1/a', 's2/x']);
  });

  it('tell requests of different sessions apart even with the same id', () => {
    expect(diffSeen([item('s2', 'a')], ['s1/a']).fresh).toHaveLength(1);
  });

  it('do not ring again for a request answered and gone, then listed again', () => {
    const gone = diffSeen([], ['s1/a']).seen;
    expect(gone).toEqual(['s1/a']);
    expect(diffSeen([item('s1', 'a')], gone).fresh).toEqual([]);
  });

  it('stay bounded, never dropping what is still listed', () => {
    const old = Array.from({ length: 10 }, (_, i) => `old/${i}`);
    const listed = [item('s', 'n1'), item('s', 'n2')];
    const { seen } = diffSeen(listed, old, 5);
    expect(seen).toEqual(['s/n1', 's/n2', 'old/0', 'old/1', 'old/2']);
    const many = Array.from({ length: 8 }, (_, i) => item('s', `m${i}`));
    expect(diffSeen(many, old, 5).seen).toHaveLength(8);
  });

  it('are stored per user and survive a reload', () => {
    localStorage.clear();
    expect(readSeen(localStorage, 'user:bob')).toBeNull();
    writeSeen(localStorage, 'user:bob', ['s1/a']);
    expect(readSeen(localStorage, 'user:bob')).toEqual(['s1/a']);
    expect(readSeen(localStorage, 'user:alice')).toBeNull();
  });

  it('treat a damaged entry as first use', () => {
    localStorage.setItem(seenStorageKey('user:bob'), '{not json');
    expect(readSeen(localStorage, 'user:bob')).toBeNull();
    localStorage.setItem(seenStorageKey('user:bob'), '[1, 2]');
    expect(readSeen(localStorage, 'user:bob')).toBeNull();
    expect(readSeen(null, 'user:bob')).toBeNull();
  });
});
