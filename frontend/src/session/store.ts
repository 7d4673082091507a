// The session store: a pure reducer over numbered events.
//
// `applyEvents` ignores any event with seq <= lastSeq, so feeding it a replay that
// overlaps what it already holds changes nothing; a `snapshot` replaces the session's
// state (status, task state, open requests, outcome) and moves lastSeq to its seq.
import type { Event, Request, Session, SessionStatus } from '../protocol';
import { TERMINAL } from '../protocol';
import { type Failure, failureLine } from './outcome';

export type LineKind =
  | 'stream'
  | 'markdown'
  | 'status'
  | 'request'
  | 'answer'
  | 'failure'
  | 'done'
  | 'notice';

export interface LogLine {
  seq: number;
  ts: string;
  kind: LineKind;
  text: string;
  /** Who answered (for `answer` lines). */
  by?: string;
  /** The request a `request`, `answer` or retry-offer `failure` line is about. */
  requestId?: string;
}

/** Where a request's question was put, and whether it is settled. */
export interface RequestMark {
  /** The seq of the event that opened it (`request_user_input`, `request_confirmation`,
   * or `task_failed` with a `request_id`). */
  opened: number;
  /** Answered or expired. */
  closed: boolean;
}

export interface ProgressBar {
  label: string;
  done: number;
  total: number;
}

export interface Answered {
  request_id: string;
  kind: Request['kind'];
  by: string;
  value: unknown;
  seq: number;
}

export interface SessionState {
  lastSeq: number;
  status: SessionStatus | null;
  lines: readonly LogLine[];
  progress: readonly ProgressBar[];
  state: Readonly<Record<string, unknown>>;
  /** Open requests, oldest first. */
  pending: readonly Request[];
  answered: Readonly<Record<string, Answered>>;
  /** Every request whose opening event this view holds, by id. */
  requests: Readonly<Record<string, RequestMark>>;
  result: { value: unknown } | null;
  failure: Failure | null;
  /** The last error a `task_failed` reported (a declined retry fails with it). */
  lastError: Failure | null;
  cancelReason: string | null;
  /** Who cancelled: a user id, null for the task itself, undefined while not known. */
  cancelledBy?: string | null;
  /** The hub no longer had every event; a snapshot stood in for the missing ones. */
  trimmed: boolean;
}

export const emptySession: SessionState = {
  lastSeq: 0,
  status: null,
  lines: [],
  progress: [],
  state: {},
  pending: [],
  answered: {},
  requests: {},
  result: null,
  failure: null,
  lastError: null,
  cancelReason: null,
  trimmed: false,
};

const STATUS_TEXT: Record<SessionStatus, string> = {
  pending: 'Queued',
  running: 'Running',
  waiting: 'Waiting for an answer',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function statusText(status: SessionStatus): string {
  return STATUS_TEXT[status];
}

/** Apply a batch of events (in seq order) and return the new state. */
export function applyEvents(state: SessionState, events: readonly Event[]): SessionState {
  let next = state;
  let lines: LogLine[] | null = null;
  const push = (line: LogLine): void => {
    lines ??= next.lines.slice();
    lines.push(line);
  };
  for (const event of events) {
    if (event.type !== 'snapshot' && event.seq <= next.lastSeq) continue;
    if (event.type === 'snapshot' && event.seq < next.lastSeq) continue;
    next = applyOne({ ...next, lastSeq: event.seq }, event, push);
  }
  if (lines !== null) next = { ...next, lines };
  return next;
}

function withoutRequest(pending: readonly Request[], id: string): readonly Request[] {
  return pending.some((r) => r.request_id === id) ? pending.filter((r) => r.request_id !== id) : pending;
}

function applyOne(s: SessionState, e: Event, push: (line: LogLine) => void): SessionState {
  const at = { seq: e.seq, ts: e.ts };
  switch (e.type) {
    case 'status': {
      const terminal = TERMINAL.has(e.status);
      // running ⇄ waiting flips with every question: log only the start and the end.
      // `task_completed` and `task_cancelled` say the rest in their own words.
      const quiet =
        e.status === 'waiting' ||
        e.status === 'completed' ||
        (e.status === 'cancelled' && s.cancelReason !== null) ||
        (e.status === 'running' && s.status !== null && s.status !== 'pending');
      if (!quiet && e.status !== s.status) {
        push({ ...at, kind: 'status', text: statusText(e.status) });
      }
      const failure = e.status === 'failed' ? (s.failure ?? s.lastError) : s.failure;
      return { ...s, status: e.status, pending: terminal ? [] : s.pending, failure };
    }
    case 'stream':
      push({ ...at, kind: 'stream', text: e.content });
      return s;
    case 'markdown':
      push({ ...at, kind: 'markdown', text: e.content });
      return s;
    case 'progress': {
      const label = e.label ?? '';
      const bar = { label, done: e.done, total: e.total };
      const index = s.progress.findIndex((p) => p.label === label);
      const progress = index < 0 ? [...s.progress, bar] : s.progress.map((p, i) => (i === index ? bar : p));
      return { ...s, progress };
    }
    case 'state':
      return { ...s, state: e.state };
    case 'request_user_input':
      push({ ...at, kind: 'request', text: e.prompt, requestId: e.request_id });
      s = opened(s, e.request_id, e.seq);
      return addRequest(s, {
        request_id: e.request_id, kind: 'input', prompt: e.prompt, fields: e.fields,
        schema: e.schema, created_at: e.ts, expires_at: e.expires_at ?? null,
      });
    case 'request_confirmation':
      push({ ...at, kind: 'request', text: e.prompt, requestId: e.request_id });
      s = opened(s, e.request_id, e.seq);
      return addRequest(s, {
        request_id: e.request_id, kind: 'confirm', prompt: e.prompt, details: e.details ?? null,
        created_at: e.ts, expires_at: e.expires_at ?? null,
      });
    case 'task_failed': {
      const failure: Failure = {
        message: e.error, attempt: e.attempt,
        ...(e.error_type ? { type: e.error_type } : {}), ...(e.step ? { step: e.step } : {}),
      };
      s = { ...s, lastError: failure };
      if (e.can_retry && e.request_id) {
        push({ ...at, kind: 'failure', text: failureLine(e), requestId: e.request_id });
        s = opened(s, e.request_id, e.seq);
        return addRequest(s, {
          request_id: e.request_id, kind: 'retry', prompt: 'The task failed. Try again?',
          error: e.error, attempt: e.attempt, created_at: e.ts, expires_at: e.expires_at ?? null,
        });
      }
      push({ ...at, kind: 'failure', text: failureLine(e) });
      return { ...s, failure };
    }
    case 'request_answered':
      push({
        ...at, kind: 'answer', by: e.by, requestId: e.request_id,
        text: answerText(e.kind, e.value, s.pending.find((r) => r.request_id === e.request_id)),
      });
      return {
        ...closed(s, e.request_id),
        pending: withoutRequest(s.pending, e.request_id),
        answered: { ...s.answered, [e.request_id]: { request_id: e.request_id, kind: e.kind, by: e.by, value: e.value, seq: e.seq } },
      };
    case 'request_expired':
      push({ ...at, kind: 'notice', text: 'A request expired without an answer.' });
      return { ...closed(s, e.request_id), pending: withoutRequest(s.pending, e.request_id) };
    case 'task_completed':
      push({ ...at, kind: 'done', text: 'Task completed.' });
      return { ...s, result: { value: e.result } };
    case 'task_cancelled':
      push({ ...at, kind: 'notice', text: `Task cancelled${e.reason ? `: ${e.reason}` : '.'}` });
      return { ...s, cancelReason: e.reason, cancelledBy: e.by ?? null, pending: [] };
    case 'snapshot':
      push({ ...at, kind: 'notice', text: 'Earlier events are no longer kept; the view resumes from here.' });
      return fromSession(s, e.session);
  }
}

function opened(s: SessionState, id: string, seq: number): SessionState {
  if (s.requests[id] !== undefined) return s;
  return { ...s, requests: { ...s.requests, [id]: { opened: seq, closed: false } } };
}

function closed(s: SessionState, id: string): SessionState {
  const mark = s.requests[id];
  if (mark === undefined || mark.closed) return s;
  return { ...s, requests: { ...s.requests, [id]: { ...mark, closed: true } } };
}

/**
 * The `at_seq` to fork the session at so that the new session asks this line's question
 * again: the seq of the request's opening event, for a request that is settled (answered
 * or expired) and whose opening this view holds; else null (nothing to fork from here).
 */
export function forkPoint(state: Pick<SessionState, 'requests'>, line: LogLine): number | null {
  if (line.requestId === undefined) return null;
  const mark = state.requests[line.requestId];
  return mark !== undefined && mark.closed ? mark.opened : null;
}

function addRequest(s: SessionState, request: Request): SessionState {
  if (s.pending.some((r) => r.request_id === request.request_id)) return s;
  return { ...s, pending: [...s.pending, request] };
}

/** The state a Session object (from a snapshot) describes. */
export function fromSession(s: SessionState, session: Session): SessionState {
  const failed = session.status === 'failed' && session.error !== null;
  return {
    ...s,
    lastSeq: Math.max(s.lastSeq, session.last_seq),
    status: session.status,
    state: session.state,
    pending: TERMINAL.has(session.status) ? [] : session.pending,
    result: session.status === 'completed' ? { value: session.result } : s.result,
    failure: failed && session.error
      ? { message: session.error.message, attempt: null, type: session.error.type, step: null, traceback: session.error.traceback ?? null }
      : s.failure,
    ...(session.status === 'cancelled' ? { cancelledBy: session.cancelled_by ?? null } : {}),
    trimmed: true,
  };
}

function answerText(kind: Request['kind'], value: unknown, request: Request | undefined): string {
  if (kind === 'retry') return value === true ? 'Chose to retry' : 'Gave up';
  const verb = kind === 'confirm' ? (value === true ? 'Confirmed' : 'Declined') : 'Answered';
  return request ? `${verb} “${request.prompt}”` : verb;
}
