import { describe, expect, it } from 'vitest';
import type { InboxItem } from '../protocol';
import { MOST_NOTICES, noticesFor, worthNotifying } from './notices';

const item = (session: string, request: string, prompt = 'Approve 450 EUR?'): InboxItem => ({
  session_id: session, task: 'expense_approval', title: 'Expense approval', owner: 'user:alice',
  opened_at: '2026-01-01T00:00:00.000Z',
  request: { request_id: request, kind: 'confirm', prompt, created_at: '2026-01-01T00:00:00.000Z' },
});

describe('notices', () => {
  it('say the task and the prompt, and open the session', () => {
    expect(noticesFor([item('s 1', 'a')])).toEqual([{
      title: 'Expense approval', body: 'Approve 450 EUR?', tag: 'tether:s 1/a', path: '/sessions/s%201',
    }]);
  });

  it('clip long prompts to one short line', () => {
    const [notice] = noticesFor([item('s', 'a', `Line one\n\n${'x'.repeat(400)}`)]);
    expect(notice!.body.startsWith('Line one x')).toBe(true);
    expect(notice!.body.length).toBeLessThanOrEqual(180);
    expect(notice!.body.endsWith('…')).toBe(true);
  });

  it('become one summary that opens the Inbox when many arrive at once', () => {
    const many = Array.from({ length: MOST_NOTICES + 1 }, (_, i) => item(`s${i}`, 'a'));
    expect(noticesFor(many)).toEqual([{
      title: `${MOST_NOTICES + 1} new questions for you`, body: 'Expense approval', tag: 'tether:inbox', path: '/inbox',
    }]);
    expect(noticesFor(many.slice(0, MOST_NOTICES))).toHaveLength(MOST_NOTICES);
  });

  it('leave out the session on screen', () => {
    const fresh = [item('s1', 'a'), item('s2', 'b')];
    expect(worthNotifying(fresh, 's1').map((i) => i.session_id)).toEqual(['s2']);
    expect(worthNotifying(fresh, null)).toHaveLength(2);
  });
});
