import { describe, expect, it } from 'vitest';
import type { Event, Session } from '../protocol';
import { cancelText, cancelledBy, failureLine, failurePanel, forkOrigin } from './outcome';
import { applyEvents, emptySession, fromSession } from './store';

const ts = '2026-11-21T10:00:00.000Z';
const session = (over: Partial<Session>): Session => ({
  id: 's', task: 't', status: 'running', owner: 'u_me', created_at: ts, updated_at: ts, inputs: {},
  state: {}, pending: [], result: null, error: null, last_seq: 5, progress: {}, ...over,
});

describe('failure lines', () => {
  const failed = { error: "'x'", attempt: 1, can_retry: false } as const;
  it('say "Attempt N" only for a step', () => {
    expect(failureLine({ ...failed, attempt: 2, step: 'send', error_type: 'OSError' })).toBe('Attempt 2 of “send” failed: \'x\'');
    expect(failureLine({ ...failed, error_type: 'KeyError' })).toBe("The task failed: KeyError: 'x'");
    expect(failureLine({ ...failed, step: null, error_type: null })).toBe("The task failed: 'x'");
  });
  it('count a retry offer as a step attempt even when the hub does not name the step', () => {
    expect(failureLine({ ...failed, can_retry: true, request_id: 'r1' })).toBe("Attempt 1 failed: 'x'");
  });
  it('reach the log', () => {
    const s = applyEvents(emptySession, [
      { type: 'task_failed', seq: 1, ts, error: 'boom', can_retry: false, attempt: 1, error_type: 'ValueError' },
    ]);
    expect(s.lines.map((l) => l.text)).toEqual(['The task failed: ValueError: boom']);
    expect(s.failure).toEqual({ type: 'ValueError', message: 'boom', attempt: 1 });
  });
});

describe('the failure panel', () => {
  it('shows type, message and the traceback of the session record', () => {
    const meta = session({ status: 'failed', error: { type: 'KeyError', message: "'x'", traceback: 'Traceback …' } });
    expect(failurePanel({ message: "'x'", attempt: 1 }, meta)).toEqual({ type: 'KeyError', message: "'x'", traceback: 'Traceback …' });
  });
  it('falls back to what the events said while the record is not reloaded', () => {
    const running = session({ status: 'running' });
    expect(failurePanel({ message: 'boom', attempt: 1, type: 'ValueError' }, running)).toEqual({ type: 'ValueError', message: 'boom', traceback: null });
    expect(failurePanel(null, null)).toEqual({ type: null, message: 'No reason was given.', traceback: null });
  });
  it('has no traceback toggle when the hub sent none (not the owner)', () => {
    const meta = session({ status: 'failed', error: { type: 'KeyError', message: "'x'" } });
    expect(failurePanel(null, meta).traceback).toBeNull();
  });
  it('takes the traceback from a snapshot', () => {
    const s = fromSession(emptySession, session({ status: 'failed', error: { type: 'E', message: 'm', traceback: 'tb' } }));
    expect(failurePanel(s.failure, null)).toEqual({ type: 'E', message: 'm', traceback: 'tb' });
  });
});

describe('who cancelled', () => {
  it('reads "by you" for the viewer, "by the task" when no one did', () => {
    expect(cancelText('u_me', 'cancelled', 'u_me')).toBe('Cancelled by you.');
    expect(cancelText('u_other', 'cancelled', 'u_me')).toBe('Cancelled by u_other.');
    expect(cancelText(null, 'out of budget', 'u_me')).toBe('Cancelled by the task: out of budget');
    expect(cancelText(null, 'cancelled', 'u_me')).toBe('Cancelled by the task.');
    expect(cancelText(undefined, 'out of budget', 'u_me')).toBe('Reason: out of budget');
  });
  it('comes from the event, then from the record', () => {
    const events: Event[] = [{ type: 'task_cancelled', seq: 1, ts, reason: 'cancelled', by: 'u_me' }];
    expect(applyEvents(emptySession, events).cancelledBy).toBe('u_me');
    const byTask: Event[] = [{ type: 'task_cancelled', seq: 1, ts, reason: 'done early' }];
    expect(applyEvents(emptySession, byTask).cancelledBy).toBeNull();
    expect(cancelledBy(undefined, session({ status: 'cancelled', cancelled_by: 'u_me' }))).toBe('u_me');
    expect(cancelledBy(undefined, session({ status: 'running' }))).toBeUndefined();
    expect(fromSession(emptySession, session({ status: 'cancelled', cancelled_by: 'u_me' })).cancelledBy).toBe('u_me');
  });
});

describe('the fork origin', () => {
  it('comes from the record however the page was reached', () => {
    const meta = session({ forked_from: { session_id: 'src', at_seq: 7 } });
    expect(forkOrigin(meta, null)).toEqual({ session_id: 'src', at_seq: 7 });
  });
  it('is none for a session that is no fork', () => {
    expect(forkOrigin(session({ forked_from: null }), null)).toBeNull();
    expect(forkOrigin(null, null)).toBeNull();
  });
  it('stands in from the fork button\'s hint before the record (or from a hub without the field)', () => {
    expect(forkOrigin(null, 'src')).toEqual({ session_id: 'src', at_seq: null });
    expect(forkOrigin(session({}), 'src')).toEqual({ session_id: 'src', at_seq: null });
    expect(forkOrigin(session({ forked_from: null }), 'src')).toEqual({ session_id: 'src', at_seq: null });
    expect(forkOrigin(session({ id: 'src' }), 'src')).toBeNull();
  });
});
