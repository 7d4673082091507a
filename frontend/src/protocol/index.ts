// The wire protocol (PROTOCOL.md §3–4): generated types plus a few names the app uses.
export type * from './generated';
export { CloseCode } from './generated';
import type { ClientMessage, Event, ServerFrame, Session } from './generated';

export type SessionStatus = Session['status'];
/** Every frame the hub sends on a session socket. */
export type ServerMessage = Event | ServerFrame;
/** What the app may send; `ref` is added by the socket. */
export type OutgoingFrame = ClientMessage;

export const TERMINAL: ReadonlySet<SessionStatus> = new Set(['completed', 'failed', 'cancelled']);

const EVENT_TYPES: ReadonlySet<string> = new Set<Event['type']>([
  'status', 'stream', 'progress', 'markdown', 'state', 'request_user_input',
  'request_confirmation', 'task_failed', 'request_answered', 'request_expired',
  'request_reminder', 'request_escalated',
  'task_completed', 'task_cancelled', 'snapshot',
]);

/** A stored, numbered event (as opposed to a control frame). */
export function isEvent(message: ServerMessage): message is Event {
  return EVENT_TYPES.has(message.type) && typeof (message as { seq?: unknown }).seq === 'number';
}

/** Parse one text frame; null when it is not a JSON object with a string `type`. */
export function parseServerMessage(text: string): ServerMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (data === null || typeof data !== 'object' || typeof (data as { type?: unknown }).type !== 'string') {
    return null;
  }
  return data as ServerMessage;
}
export type * from './access';
