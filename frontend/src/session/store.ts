// The session store: a pure reducer over numbered events.
//
// `applyEvents` ignores any event with seq <= lastSeq, so feeding it a replay that
// overlaps what it already holds changes nothing. A `snapshot` stands in for events the
// hub no longer keeps (PROTOCOL.md §4, "History cap"): it becomes the whole base view
// (the session as it is now, and one notice line in place of the lines that are gone) and
// moves lastSeq to its seq; the kept events that follow it re-apply to the same final
// view, so every tab ends alike however it got there.
import { waitingFor } from './assignees';
import type { Event, ForkOrigin, Request, Session, SessionStatus, SnapshotEvent } from '../protocol';
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
  /** The status the log's lines were last told of: the status before the next status
   * event (after a snapshot, as far as its seq tells: see fromSnapshot). */
  logStatus: SessionStatus | null;
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
  forkedFrom: ForkOrigin | null;
  /** How many earlier events the hub no longer keeps (the last snapshot's seq): this view
   * holds the events after them only. 0 when it holds every event. */
  notKept: number;
}

export const emptySession: SessionState = {
  lastSeq: 0,
  status: null,
  logStatus: null,
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
  forkedFrom: null,
  notKept: 0,
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
    if (event.seq <= next.lastSeq) continue;
    if (event.type === 'snapshot') {
      // A new base: what was shown before it is superseded (the lines between are gone).
      next = fromSnapshot(event);
      lines = [notKeptLine(event)];
      continue;
    }
    next = applyOne({ ...next, lastSeq: event.seq }, event, push);
  }
  if (lines !== null) next = { ...next, lines };
  return next;
}

/** "N earlier events are no longer kept": true, since N is the snapshot's seq. */
export function notKeptText(count: number): string {
  return count === 1 ? '1 earlier event is no longer kept.' : `${count.toLocaleString('en')} earlier events are no longer kept.`;
}

function notKeptLine(e: SnapshotEvent): LogLine {
  return { seq: e.seq, ts: e.ts, kind: 'notice', text: notKeptText(e.seq) };
}

/** Bars in label order, so that every tab lists them alike whatever it saw first. */
function withBar(progress: readonly ProgressBar[], bar: ProgressBar): readonly ProgressBar[] {
  const rest = progress.filter((p) => p.label !== bar.label);
  return [...rest, bar].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
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
      // The hub sends a status event only when the status changes, so each one is a change.
      const quiet =
        e.status === 'waiting' ||
        e.status === 'completed' ||
        (e.status === 'cancelled' && s.cancelReason !== null) ||
        (e.status === 'running' && s.logStatus !== null && s.logStatus !== 'pending');
      if (!quiet) push({ ...at, kind: 'status', text: statusText(e.status) });
      const failure = e.status === 'failed' ? (s.failure ?? s.lastError) : s.failure;
      return { ...s, status: e.status, logStatus: e.status, pending: terminal ? [] : s.pending, failure };
    }
    case 'stream':
      push({ ...at, kind: 'stream', text: e.content });
      return s;
    case 'markdown':
      push({ ...at, kind: 'markdown', text: e.content });
      return s;
    case 'progress':
      return { ...s, progress: withBar(s.progress, { label: e.label ?? '', done: e.done, total: e.total }) };
    case 'state':
      return { ...s, state: e.state };
    case 'request_user_input':
      push({ ...at, kind: 'request', text: e.prompt, requestId: e.request_id });
      s = opened(s, e.request_id, e.seq);
      return addRequest(s, {
        request_id: e.request_id, kind: 'input', prompt: e.prompt, fields: e.fields,
        schema: e.schema, created_at: e.ts, expires_at: e.expires_at ?? null,
        details: e.details ?? null, initial: e.initial ?? null,
        assignees: e.assignees ?? [], // absent from events stored before assignees existed
      });
    case 'request_confirmation':
      push({ ...at, kind: 'request', text: e.prompt, requestId: e.request_id });
      s = opened(s, e.request_id, e.seq);
      return addRequest(s, {
        request_id: e.request_id, kind: 'confirm', prompt: e.prompt, details: e.details ?? null,
        created_at: e.ts, expires_at: e.expires_at ?? null, assignees: e.assignees ?? [],
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
          assignees: e.assignees ?? [],
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
    case 'request_reminder':
      push({ ...at, kind: 'notice', requestId: e.request_id, text: `Reminder sent to ${waitingFor(e.assignees ?? [])}.` });
      return s;
    case 'request_escalated':
      push({ ...at, kind: 'notice', requestId: e.request_id, text: `Escalated: now waiting for ${waitingFor(e.assignees)}.` });
      return {
        ...s,
        pending: s.pending.map((r) => (r.request_id === e.request_id ? { ...r, assignees: e.assignees } : r)),
      };
    case 'task_completed':
      push({ ...at, kind: 'done', text: 'Task completed.' });
      return { ...s, result: { value: e.result } };
    case 'task_cancelled':
      push({ ...at, kind: 'notice', text: `Task cancelled${e.reason ? `: ${e.reason}` : '.'}` });
      return { ...s, cancelReason: e.reason, cancelledBy: e.by ?? null, pending: [] };
    case 'snapshot':
      return fromSnapshot(e); // applyEvents handles it before it gets here
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
  // Offered once per exchange, on the line that asked: not again on its answer's line.
  return mark !== undefined && mark.closed && line.seq === mark.opened ? mark.opened : null;
}

function addRequest(s: SessionState, request: Request): SessionState {
  if (s.pending.some((r) => r.request_id === request.request_id)) return s;
  return { ...s, pending: [...s.pending, request] };
}

/** The base view a snapshot sets: its session as it is now, and nothing older. */
export function fromSnapshot(e: SnapshotEvent): SessionState {
  // The status as of the snapshot's seq is not sent, only what the lines need of it: at
  // seq 1 (the first event, always `pending`) it is `pending`; later it is past `pending`,
  // so a kept `running` is a flip from `waiting`, not the start, as in a live tab.
  const logStatus = e.seq === 1 ? 'pending' : e.session.status;
  return { ...fromSession(emptySession, e.session), lastSeq: e.seq, notKept: e.seq, logStatus };
}

/** The state a Session object describes (everything but the log's lines). */
export function fromSession(s: SessionState, session: Session): SessionState {
  const error = session.status === 'failed' ? session.error : null;
  let progress: readonly ProgressBar[] = [];
  // `?? {}`: a hub from before `progress` existed (mid-deploy) leaves it out.
  for (const [label, bar] of Object.entries(session.progress ?? {})) {
    if (bar !== undefined) progress = withBar(progress, { label, done: bar.done, total: bar.total });
  }
  return {
    ...s,
    status: session.status,
    state: session.state,
    progress,
    pending: TERMINAL.has(session.status) ? [] : session.pending,
    result: session.status === 'completed' ? { value: session.result } : s.result,
    failure: error
      ? { message: error.message, attempt: null, type: error.type, step: null, traceback: error.traceback ?? null }
      : s.failure,
    cancelReason: session.cancel_reason ?? s.cancelReason,
    ...(session.status === 'cancelled' ? { cancelledBy: session.cancelled_by ?? null } : {}),
    forkedFrom: session.forked_from ?? null,
  };
}

function answerText(kind: Request['kind'], value: unknown, request: Request | undefined): string {
  if (kind === 'retry') return value === true ? 'Chose to retry' : 'Gave up';
  const verb = kind === 'confirm' ? (value === true ? 'Confirmed' : 'Declined') : 'Answered';
  return request ? `${verb} “${request.prompt}”` : verb;
}
