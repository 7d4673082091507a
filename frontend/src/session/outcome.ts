// How a session's end and origin read: the failure panel, who cancelled, where a fork came
// from. Pure functions over the store and the session's metadata, so they are unit-tested.
import type { ForkOrigin, Session, TaskFailedEvent } from '../protocol';

/** A failure as the app shows it. */
export interface Failure {
  message: string;
  attempt: number | null;
  /** The exception's class name, when the hub sent it. */
  type?: string | null;
  /** The step whose attempt failed; null for the task itself. */
  step?: string | null;
  /** Only in what the session's owner is sent. */
  traceback?: string | null;
}

/** The reason the hub records when a cancel gave none: not worth repeating to people. */
const DEFAULT_CANCEL_REASON = 'cancelled';

/**
 * The log line of a `task_failed` event. Only a step has attempts ("Attempt 2 of “send”
 * failed: …"); the task itself fails once ("The task failed: KeyError: 'x'"). A retry offer
 * is always about a step, even from a hub that does not name it.
 */
export function failureLine(e: Pick<TaskFailedEvent, 'error' | 'attempt' | 'step' | 'error_type' | 'can_retry' | 'request_id'>): string {
  if (e.step) return `Attempt ${e.attempt} of “${e.step}” failed: ${e.error}`;
  if (e.can_retry && e.request_id) return `Attempt ${e.attempt} failed: ${e.error}`;
  return `The task failed: ${e.error_type ? `${e.error_type}: ` : ''}${e.error}`;
}

export interface FailurePanel {
  type: string | null;
  message: string;
  traceback: string | null;
}

/**
 * What the failure panel shows: the session's own error (metadata reloaded at the end, or a
 * snapshot) wins over what the events said, as only it carries the traceback.
 */
export function failurePanel(failure: Failure | null, meta: Pick<Session, 'status' | 'error'> | null): FailurePanel {
  const error = meta?.status === 'failed' ? meta.error : null;
  return {
    type: error?.type ?? failure?.type ?? null,
    message: error?.message ?? failure?.message ?? 'No reason was given.',
    traceback: error?.traceback ?? failure?.traceback ?? null,
  };
}

/**
 * Who cancelled, in words. `by` is a user id, null when the task cancelled itself, and
 * undefined while not known (then only the reason is told). `owner` is the viewer: the app
 * only ever shows a session to its owner.
 */
export function cancelText(by: string | null | undefined, reason: string | null, owner: string | null): string {
  const why = reason && reason !== DEFAULT_CANCEL_REASON ? reason : null;
  if (by === undefined) return why ? `Reason: ${why}` : 'The task was stopped.';
  if (by === null) return why ? `Cancelled by the task: ${why}` : 'Cancelled by the task.';
  const who = by === owner ? 'you' : by;
  return why ? `Cancelled by ${who}: ${why}` : `Cancelled by ${who}.`;
}

/** Who cancelled, from the events if they said, else from the session's metadata. */
export function cancelledBy(fromEvents: string | null | undefined, meta: Pick<Session, 'status' | 'cancelled_by'> | null): string | null | undefined {
  if (fromEvents !== undefined) return fromEvents;
  if (meta?.status === 'cancelled') return meta.cancelled_by ?? null;
  return undefined;
}

/**
 * Where this session was forked from: the hub's `forked_from`, however the page was reached
 * (a link, a refresh, the list). `hint` is the source id that the fork button's own
 * navigation carries (`?from=`): it stands in, without the event, before the metadata has
 * loaded or when a hub that does not fill `forked_from` in says null.
 */
export function forkOrigin(meta: Pick<Session, 'id' | 'forked_from'> | null, hint: string | null): { session_id: string; at_seq: number | null } | null {
  const origin: ForkOrigin | null | undefined = meta?.forked_from;
  if (origin) return origin;
  if (hint && hint !== meta?.id) return { session_id: hint, at_seq: null };
  return null;
}
