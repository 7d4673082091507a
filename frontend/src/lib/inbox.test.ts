import { describe, expect, it } from 'vitest';
import type { InboxItem } from '../protocol';
import { ApiError } from './api';
import { MOST, answerOutcome, askedBy, countByOrigin, itemKey, moreWanted, pruneAnswered, stillOpen } from './inbox';

const item = (session: string, request: string): InboxItem => ({
  session_id: session, task: 'expense_approval', title: 'Expense approval', owner: 'user:alice',
  opened_at: '2026-01-01T00:00:00.000Z',
  request: { request_id: request, kind: 'confirm', prompt: 'Approve?', created_at: '2026-01-01T00:00:00.000Z', assignees: ['group:finance'] },
});

describe('the inbox', () => {
  it('counts open requests per session', () => {
    expect([...countByOrigin([item('s1', 'a'), item('s2', 'b'), item('s1', 'c')])]).toEqual([['s1', 2], ['s2', 1]]);
  });

  it('hides what was just answered until the hub stops listing it, then forgets it', () => {
    const items = [item('s1', 'a'), item('s2', 'b')];
    const answered = new Set([itemKey(items[0]!)]);
    expect(stillOpen(items, answered).map(itemKey)).toEqual(['s2/b']);
    expect([...pruneAnswered(answered, items)]).toEqual(['s1/a']);
    expect([...pruneAnswered(answered, items.slice(1))]).toEqual([]);
  });

  it('shows a page more at a time, never more than the hub pages', () => {
    expect(moreWanted(20)).toBe(40);
    expect(moreWanted(90)).toBe(MOST);
    expect(moreWanted(MOST)).toBe(MOST);
  });

  it('turns an HTTP answer into the outcome a form shows', async () => {
    expect(await answerOutcome(Promise.resolve({}))).toEqual({ ok: true });
    const refused = await answerOutcome(Promise.reject(new ApiError(403, 'forbidden', 'Not yours.')));
    expect(refused).toMatchObject({ ok: false, code: 'forbidden', message: 'Not yours.' });
    expect((await answerOutcome(Promise.reject(new Error('x')))).ok).toBe(false);
  });

  it('names who asked', () => {
    expect(askedBy('user:alice')).toBe('alice');
    expect(askedBy('u_0123456789abcdef')).toBe('u_0123456789abcdef');
  });
});
