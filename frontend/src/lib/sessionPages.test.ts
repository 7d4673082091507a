import { describe, expect, it } from 'vitest';
import type { Session, SessionPage } from '../protocol';
import { type Listing, mergeHead, mergeOlder } from './sessionPages';

const ts = '2026-11-21T10:00:00.000Z';
const session = (n: number, status: Session['status'] = 'completed'): Session => ({
  id: `s${String(n).padStart(4, '0')}`, task: 't', status, owner: 'u', created_at: ts, updated_at: ts,
  inputs: {}, state: {}, pending: [], result: null, error: null, last_seq: 1, progress: {},
});

/** The hub's pager (store.list_sessions): newest first, `before` an exclusive id cursor. */
function hubPage(all: readonly Session[], limit: number, before: string | null = null): SessionPage {
  const sorted = [...all].sort((a, b) => (a.id < b.id ? 1 : -1)).filter((s) => before === null || s.id < before);
  const page = sorted.slice(0, limit);
  return { sessions: page, next: sorted.length > limit ? (page[page.length - 1]?.id ?? null) : null };
}

const ids = (l: Listing): string[] => l.rows.map((s) => s.id);

describe('the sessions pager', () => {
  it('misses no row when new sessions arrive after an older page was loaded', () => {
    const all = Array.from({ length: 45 }, (_, i) => session(i + 1));
    let list = mergeHead(null, hubPage(all, 20));
    list = mergeOlder(list, hubPage(all, 20, list.next));
    expect(list.rows).toHaveLength(40);

    all.push(session(46), session(47)); // two new sessions; the head's window slides by two
    list = mergeHead(list, hubPage(all, 20));
    expect(ids(list)).toEqual(all.map((s) => s.id).reverse().slice(0, 42));
    list = mergeOlder(list, hubPage(all, 20, list.next));
    expect(ids(list)).toEqual(all.map((s) => s.id).reverse()); // every row, once, in order
    expect(list.next).toBeNull();
  });

  it('replaces rows in the head with their new state, and drops those that left it', () => {
    const all = Array.from({ length: 25 }, (_, i) => session(i + 1, 'running'));
    let list = mergeHead(null, hubPage(all, 20));
    list = mergeOlder(list, hubPage(all, 20, list.next));
    const done = all.map((s) => (s.id === 's0024' ? { ...s, status: 'completed' as const } : s)).filter((s) => s.id !== 's0023');
    list = mergeHead(list, hubPage(done, 20));
    expect(list.rows.find((s) => s.id === 's0024')?.status).toBe('completed');
    expect(ids(list)).not.toContain('s0023');
    expect(ids(list)).toEqual(done.map((s) => s.id).reverse());
  });

  it('starts over from the head when more sessions arrived than a page holds', () => {
    const all = Array.from({ length: 30 }, (_, i) => session(i + 1));
    let list = mergeHead(null, hubPage(all, 10));
    list = mergeOlder(list, hubPage(all, 10, list.next));
    for (let n = 31; n <= 45; n++) all.push(session(n));
    list = mergeHead(list, hubPage(all, 10));
    expect(ids(list)).toEqual(all.map((s) => s.id).reverse().slice(0, 10));
    list = mergeOlder(list, hubPage(all, 10, list.next));
    expect(ids(list)).toEqual(all.map((s) => s.id).reverse().slice(0, 20)); // no hole
  });

  it('keeps a row that slid off the head, and pages on below the last row', () => {
    const all = Array.from({ length: 25 }, (_, i) => session(i + 1));
    let list = mergeHead(null, hubPage(all, 20));
    all.push(session(26));
    list = mergeHead(list, hubPage(all, 20));
    expect(ids(list)).toEqual(all.map((s) => s.id).reverse().slice(0, 21));
    expect(list.next).toBe(ids(list)[20]);
    list = mergeOlder(list, hubPage(all, 20, list.next));
    expect(ids(list)).toEqual(all.map((s) => s.id).reverse());
  });
});
