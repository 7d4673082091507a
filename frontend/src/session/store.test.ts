import { describe, expect, it } from 'vitest';
import type { Event, Session } from '../protocol';
import { type SessionState, applyEvents, emptySession, forkPoint } from './store';

const ts = '2026-11-21T10:00:00.000Z';
const stream = (seq: number): Event => ({ type: 'stream', seq, ts, content: `line ${seq}` });
const base: Session = {
  id: 's', task: 't', status: 'running', owner: 'u', created_at: ts, updated_at: ts, inputs: {},
  state: {}, result: null, error: null, last_seq: 1, pending: [], progress: {},
};

/** Everything a tab renders but the log's lines (which differ in how far back they go). */
function view(s: SessionState): unknown {
  const { lines: _lines, notKept: _notKept, requests: _requests, answered: _answered, lastSeq: _lastSeq, ...rest } = s;
  return rest;
}

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

  it('takes a snapshot as the base view, then applies the kept events after it', () => {
    // The session as it is now (seq 95): the kept tail 91..95 follows the snapshot at 90.
    const session: Session = {
      ...base, status: 'waiting', last_seq: 95, state: { step: 2 },
      progress: { files: { done: 4, total: 5 }, '': { done: 1, total: 2 } },
      pending: [{ request_id: 'x', kind: 'confirm', prompt: 'Go?', created_at: ts }],
    };
    const before = applyEvents(emptySession, [stream(1)]);
    const s = applyEvents(before, [
      { type: 'snapshot', seq: 90, ts, session },
      stream(91),
      { type: 'progress', seq: 92, ts, done: 4, total: 5, label: 'files' },
      { type: 'state', seq: 93, ts, state: { step: 2 } },
      { type: 'request_confirmation', seq: 94, ts, request_id: 'x', prompt: 'Go?' },
      { type: 'status', seq: 95, ts, status: 'waiting' },
    ]);
    expect(s.status).toBe('waiting');
    expect(s.state).toEqual({ step: 2 });
    expect(s.pending.map((r) => r.request_id)).toEqual(['x']);
    expect(s.progress).toEqual([{ label: '', done: 1, total: 2 }, { label: 'files', done: 4, total: 5 }]);
    expect(s.lastSeq).toBe(95);
    expect(s.notKept).toBe(90);
    // The lines from before the snapshot are gone; a true notice stands in for them.
    expect(s.lines.map((l) => [l.kind, l.seq])).toEqual([['notice', 90], ['stream', 91], ['request', 94]]);
    expect(s.lines[0]?.text).toBe('90 earlier events are no longer kept.');
  });

  it('ends every tab with the same view, however far back it saw', () => {
    // A session that asks, is answered, reports progress and ends, seq 1..12.
    const log: Event[] = [
      { type: 'status', seq: 1, ts, status: 'pending' },
      { type: 'status', seq: 2, ts, status: 'running' },
      { type: 'progress', seq: 3, ts, done: 1, total: 3, label: 'b' },
      { type: 'request_confirmation', seq: 4, ts, request_id: 'c1', prompt: 'Go?' },
      { type: 'status', seq: 5, ts, status: 'waiting' },
      { type: 'request_answered', seq: 6, ts, request_id: 'c1', kind: 'confirm', value: true, by: 'u' },
      { type: 'status', seq: 7, ts, status: 'running' },
      { type: 'progress', seq: 8, ts, done: 2, total: 2, label: 'a' },
      { type: 'state', seq: 9, ts, state: { n: 1 } },
      stream(10),
      { type: 'task_cancelled', seq: 11, ts, reason: 'cancelled', by: 'u_2' },
      { type: 'status', seq: 12, ts, status: 'cancelled' },
    ];
    const now: Session = {
      ...base, status: 'cancelled', last_seq: 12, state: { n: 1 }, cancel_reason: 'cancelled', cancelled_by: 'u_2',
      progress: { a: { done: 2, total: 2 }, b: { done: 1, total: 3 } },
    };
    const live = applyEvents(emptySession, log);
    for (const [left, gone] of [[0, 1], [0, 2], [1, 4], [3, 8], [5, 6], [9, 10]] as const) {
      // A tab that left after `left` events comes back when events up to `gone` are no longer
      // kept: a snapshot at `gone`, then the kept tail.
      const tab = applyEvents(emptySession, log.slice(0, left));
      const back = applyEvents(tab, [{ type: 'snapshot', seq: gone, ts, session: now }, ...log.slice(gone)]);
      expect(view(back)).toEqual(view(live));
      expect(back.lines.at(-1)).toEqual(live.lines.at(-1));
      // The kept events read as they did live, after the notice; only an answer whose
      // question is gone (opened at 4, answered at 6) cannot quote it any more.
      const expected = live.lines
        .filter((line) => line.seq > gone)
        .map((line) => (gone >= 4 && line.seq === 6 ? { ...line, text: 'Confirmed' } : line));
      expect(back.lines.slice(1)).toEqual(expected);
      expect(back.notKept).toBe(gone);
    }
    expect(live.cancelledBy).toBe('u_2');
    expect(live.progress.map((p) => p.label)).toEqual(['a', 'b']); // label order, not arrival order
  });

  it('takes what only a snapshot knows: the failure in full, who cancelled, the fork origin', () => {
    const failed = applyEvents(emptySession, [{
      type: 'snapshot', seq: 7, ts,
      session: {
        ...base, status: 'failed', last_seq: 9, forked_from: { session_id: 'src', at_seq: 4 },
        error: { type: 'KeyError', message: "'x'", traceback: 'Traceback…\nKeyError' },
      },
    }]);
    expect(failed.failure).toEqual({ message: "'x'", attempt: null, type: 'KeyError', step: null, traceback: 'Traceback…\nKeyError' });
    expect(failed.forkedFrom).toEqual({ session_id: 'src', at_seq: 4 });
    const cancelled = applyEvents(emptySession, [{
      type: 'snapshot', seq: 3, ts, session: { ...base, status: 'cancelled', cancel_reason: 'cancelled', cancelled_by: 'u_1' },
    }]);
    expect([cancelled.cancelReason, cancelled.cancelledBy]).toEqual(['cancelled', 'u_1']);
    expect(applyEvents(emptySession, [{ type: 'snapshot', seq: 1, ts, session: base }]).lines[0]?.text).toBe(
      '1 earlier event is no longer kept.',
    );
  });

  it('ignores a snapshot that is not past what it holds', () => {
    const s = applyEvents(emptySession, [stream(1), stream(2)]);
    expect(applyEvents(s, [{ type: 'snapshot', seq: 2, ts, session: base }])).toBe(s);
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
    // Once per exchange: on the line that asked, not again on its answer.
    expect(fork(settled)).toEqual([
      ['stream', null], ['request', 2], ['failure', 3], ['request', 4],
      ['answer', null], ['answer', null], ['notice', null],
    ]);
  });

  it('offers no fork for a failure without a retry offer, or an answer whose question it never saw', () => {
    const session: Session = {
      ...base, status: 'waiting', last_seq: 10,
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
