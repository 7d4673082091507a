import { describe, expect, it } from 'vitest';
import type { Event, Session } from '../protocol';
import { applyEvents, emptySession, forkPoint } from './store';

const ts = '2026-11-21T10:00:00.000Z';
const stream = (seq: number): Event => ({ type: 'stream', seq, ts, content: `line ${seq}` });

describe('applyEvents', () => {
  it('ignores events it already holds, so overlapping replays change nothing', () => {
    const once = applyEvents(emptySession, [stream(1), stream(2), stream(3)]);
    const again = applyEvents(once, [stream(2), stream(3)]);
    expect(again).toBe(once);
    const more = applyEvents(once, [stream(3), stream(4)]);
    expect(more.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
  });

  it('opens requests and closes them when answered, by anyone', () => {
    let s = applyEvents(emptySession, [
      { type: 'request_confirmation', seq: 1, ts, request_id: 'c1', prompt: 'Send?', details: 'To: a' },
      { type: 'task_failed', seq: 2, ts, error: 'boom', can_retry: true, attempt: 1, request_id: 'r1' },
    ]);
    expect(s.pending.map((r) => [r.request_id, r.kind])).toEqual([['c1', 'confirm'], ['r1', 'retry']]);
    expect(s.pending[1]).toMatchObject({ error: 'boom', attempt: 1 });
    s = applyEvents(s, [{ type: 'request_answered', seq: 3, ts, request_id: 'c1', kind: 'confirm', value: true, by: 'u_1' }]);
    expect(s.pending.map((r) => r.request_id)).toEqual(['r1']);
    expect(s.answered.c1?.by).toBe('u_1');
  });

  it('keeps the latest progress per label and the whole state', () => {
    const s = applyEvents(emptySession, [
      { type: 'progress', seq: 1, ts, done: 1, total: 5, label: 'Processing' },
      { type: 'progress', seq: 2, ts, done: 3, total: 5, label: 'Processing' },
      { type: 'state', seq: 3, ts, state: { drafts: ['a'] } },
    ]);
    expect(s.progress).toEqual([{ label: 'Processing', done: 3, total: 5 }]);
    expect(s.state).toEqual({ drafts: ['a'] });
  });

  it('replaces the session state with a snapshot', () => {
    const session: Session = {
      id: 's', task: 't', status: 'waiting', owner: 'u', created_at: ts, updated_at: ts, inputs: {},
      state: { step: 2 }, result: null, error: null, last_seq: 90, progress: {},
      pending: [{ request_id: 'x', kind: 'confirm', prompt: 'Go?', created_at: ts }],
    };
    const before = applyEvents(emptySession, [stream(1)]);
    const s = applyEvents(before, [{ type: 'snapshot', seq: 90, ts, session }, stream(91)]);
    expect(s.status).toBe('waiting');
    expect(s.state).toEqual({ step: 2 });
    expect(s.pending.map((r) => r.request_id)).toEqual(['x']);
    expect(s.lastSeq).toBe(91);
    expect(s.lines.map((l) => l.kind)).toEqual(['stream', 'notice', 'stream']);
  });

  it('records the outcome and clears open requests when the session ends', () => {
    const s = applyEvents(emptySession, [
      { type: 'request_confirmation', seq: 1, ts, request_id: 'c1', prompt: 'Send?' },
      { type: 'task_failed', seq: 2, ts, error: 'no more tries', can_retry: false, attempt: 3 },
      { type: 'status', seq: 3, ts, status: 'failed' },
    ]);
    expect(s.pending).toEqual([]);
    expect(s.failure).toEqual({ message: 'no more tries', attempt: 3 });
  });

  it('forks a settled question from the event that opened it, from its line and its answer', () => {
    const open = applyEvents(emptySession, [
      stream(1),
      { type: 'request_user_input', seq: 2, ts, request_id: 'q1', prompt: 'Who?', fields: [], schema: {} },
      { type: 'task_failed', seq: 3, ts, error: 'boom', can_retry: true, attempt: 1, request_id: 'r1' },
      { type: 'request_confirmation', seq: 4, ts, request_id: 'c1', prompt: 'Send?' },
    ]);
    const fork = (s: typeof open) => s.lines.map((line) => [line.kind, forkPoint(s, line)]);
    // Nothing to fork while every question is still open: it is being asked right now.
    expect(fork(open)).toEqual([['stream', null], ['request', null], ['failure', null], ['request', null]]);

    const settled = applyEvents(open, [
      { type: 'request_answered', seq: 5, ts, request_id: 'r1', kind: 'retry', value: true, by: 'u' },
      { type: 'request_answered', seq: 6, ts, request_id: 'q1', kind: 'input', value: { name: 'a' }, by: 'u' },
      { type: 'request_expired', seq: 7, ts, request_id: 'c1' },
    ]);
    expect(fork(settled)).toEqual([
      ['stream', null], ['request', 2], ['failure', 3], ['request', 4],
      ['answer', 3], ['answer', 2], ['notice', null],
    ]);
  });

  it('offers no fork for a failure without a retry offer, or an answer whose question it never saw', () => {
    const session: Session = {
      id: 's', task: 't', status: 'waiting', owner: 'u', created_at: ts, updated_at: ts, inputs: {},
      state: {}, result: null, error: null, last_seq: 10, progress: {},
      pending: [{ request_id: 'old', kind: 'confirm', prompt: 'Go?', created_at: ts }],
    };
    const s = applyEvents(emptySession, [
      { type: 'snapshot', seq: 10, ts, session },
      { type: 'request_answered', seq: 11, ts, request_id: 'old', kind: 'confirm', value: true, by: 'u' },
      { type: 'task_failed', seq: 12, ts, error: 'no more tries', can_retry: false, attempt: 3 },
    ]);
    expect(s.lines.map((line) => forkPoint(s, line))).toEqual([null, null, null]);
  });

  it('appends 50,000 lines in batches, in order', () => {
    let s = emptySession;
    for (let batch = 0; batch < 100; batch++) {
      s = applyEvents(s, Array.from({ length: 500 }, (_, i) => stream(batch * 500 + i + 1)));
    }
    expect(s.lines).toHaveLength(50_000);
    expect(s.lines[49_999]?.seq).toBe(50_000);
  });
});
