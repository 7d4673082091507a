// One watched session: its socket, its store and what this tab has in flight. No React:
// components read it through `useSession` (useSyncExternalStore).
import type { ErrorFrame, Event, Request, ServerFrame, Session } from '../protocol';
import { TERMINAL } from '../protocol';
import { ApiError, api } from '../lib/api';
import { withLink } from '../lib/linkToken';
import { type ConnectionState, SessionSocket, type WebSocketFactory } from '../socket/SessionSocket';
import { type SessionState, applyEvents, emptySession } from './store';

export interface AnswerOutcome {
  ok: boolean;
  code?: string;
  message?: string;
  fields?: Readonly<Record<string, string>>;
}

export interface Toast {
  id: number;
  text: string;
}

export interface SessionSnapshot {
  meta: Session | null;
  loadError: string | null;
  /** Null while the session is there as far as this tab knows; else the hub's own words
   * for why it is not (a 404 body or a 4404 close reason), '' when it gave none. */
  missing: string | null;
  store: SessionState;
  connection: ConnectionState;
  /** True from the first replay_complete on: the view shows everything stored. */
  caughtUp: boolean;
  toasts: readonly Toast[];
}

type Pending = { resolve: (outcome: AnswerOutcome) => void; timer: ReturnType<typeof setTimeout> };

const ANSWER_TIMEOUT_MS = 15_000;

/** What a holder of a share link is told when the hub no longer knows the session by it. */
export const LINK_GONE = 'This link has expired or was revoked.';

/** What a tab is told when the hub's store lost events it showed (PROTOCOL.md §4, "Epochs"). */
export const HISTORY_RESET = 'The hub’s store lost some of this session’s latest events (a failover or a restore); the view was rebuilt from what it keeps.';

/** The session's socket, resuming after `after` of the log's `epoch`; `link`, a share
 * link's token, goes along. */
export function socketUrl(sessionId: string, after: number, link: string | null = null, epoch: string | null = null): string {
  const { protocol, host } = window.location;
  const scheme = protocol === 'https:' ? 'wss:' : 'ws:';
  const at = epoch === null ? `after=${after}` : `after=${after}&epoch=${encodeURIComponent(epoch)}`;
  return withLink(`${scheme}//${host}/ws/sessions/${encodeURIComponent(sessionId)}?${at}`, link);
}

export class SessionController {
  private snapshot: SessionSnapshot;
  private readonly listeners = new Set<() => void>();
  private readonly socket: SessionSocket;
  private inbox: Event[] = [];
  private flushHandle: number | null = null;
  private readonly inFlight = new Map<string, Pending>();
  /** Requests this tab answered: their `request_answered` needs no toast here. */
  private readonly answeredHere = new Set<string>();
  private toastId = 0;
  private disposed = false;

  /** The share link this session is watched through (`?link=TOKEN`), or null. */
  readonly link: string | null;

  constructor(
    readonly sessionId: string,
    options: { createSocket?: WebSocketFactory; link?: string | null } = {},
  ) {
    this.link = options.link ?? null;
    this.snapshot = {
      meta: null,
      loadError: null,
      missing: null,
      store: emptySession,
      connection: { phase: 'connecting', attempt: 0, silent: false },
      caughtUp: false,
      toasts: [],
    };
    this.socket = new SessionSocket({
      url: (after, epoch) => socketUrl(sessionId, after, this.link, epoch),
      ...(options.createSocket ? { createSocket: options.createSocket } : {}),
      handlers: {
        event: (event) => this.queue(event),
        control: (frame) => this.control(frame),
        reset: () => this.reset(),
        state: (connection) => this.update(
          connection.phase === 'closed' && connection.reason === 'not_found'
            ? { connection, missing: this.missingText(connection.message) }
            : { connection },
        ),
        disconnect: () => this.failInFlight('The connection dropped before the hub confirmed this. Check the log, then try again if needed.'),
        dropped: (frame) => {
          if (frame.ref) this.settle(frame.ref, { ok: false, code: 'not_sent', message: 'Too many answers were waiting for the connection; this one was not sent.' });
        },
      },
    });
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): SessionSnapshot => this.snapshot;

  /** Load the session (which also gives this browser its identity cookie), then connect. */
  async start(): Promise<void> {
    try {
      const meta = await api.session(this.sessionId, this.link);
      if (this.disposed) return;
      this.update({ meta });
      this.socket.start();
    } catch (error) {
      if (this.disposed) return;
      if (error instanceof ApiError && error.status === 404) {
        this.update({ missing: this.missingText(error.message), connection: { phase: 'closed', reason: 'not_found', message: error.message } });
        return;
      }
      this.update({ loadError: error instanceof Error ? error.message : 'The session could not be loaded.' });
      this.socket.start();
    }
  }

  /** Why the session is not there: through a link, the link is what is gone (the hub says
   * only "unknown session", the same as for an id that never existed). */
  private missingText(hubMessage: string | undefined): string {
    return this.link !== null ? LINK_GONE : (hubMessage ?? '');
  }

  dispose(): void {
    this.disposed = true;
    this.socket.stop();
    if (this.flushHandle !== null) window.clearTimeout(this.flushHandle);
    this.failInFlight('The view was closed.');
    this.listeners.clear();
  }

  reconnectNow(): void {
    this.socket.reconnectNow();
  }

  /** Answer a request over the socket (the hub's error frame carries field errors), or
   * over HTTP when the socket is down. */
  answer(request: Request, value: unknown): Promise<AnswerOutcome> {
    this.answeredHere.add(request.request_id);
    const phase = this.snapshot.connection.phase;
    if (phase !== 'open' && phase !== 'replaying') return this.answerOverHttp(request, value);
    const frame =
      request.kind === 'input'
        ? { type: 'user_input' as const, request_id: request.request_id, values: (value ?? {}) as Record<string, unknown> }
        : { type: request.kind, request_id: request.request_id, value: value === true };
    return new Promise<AnswerOutcome>((resolve) => {
      const ref = this.socket.send(frame);
      const timer = setTimeout(() => this.settle(ref, { ok: false, code: 'timeout', message: 'The hub did not confirm this in time. Try again.' }), ANSWER_TIMEOUT_MS);
      this.inFlight.set(ref, { resolve, timer });
    });
  }

  /** The session's metadata, again: the socket is live, so the hub is reachable now. */
  private async loadMeta(): Promise<void> {
    try {
      const meta = await api.session(this.sessionId, this.link);
      if (!this.disposed) this.update({ meta, loadError: null });
    } catch {
      // Still unreachable: the error shown stays, the live view goes on regardless.
    }
  }

  private async answerOverHttp(request: Request, value: unknown): Promise<AnswerOutcome> {
    try {
      await api.answer(this.sessionId, request.request_id, value);
      // The socket is down (that is why this went over HTTP): reconnect now, so its
      // replay closes this dialog at once instead of after the backoff.
      this.socket.reconnectNow();
      return { ok: true };
    } catch (error) {
      if (error instanceof ApiError) return { ok: false, code: error.code, message: error.message, fields: error.fields };
      return { ok: false, code: 'unknown', message: String(error) };
    }
  }

  async cancel(): Promise<AnswerOutcome> {
    try {
      await api.cancel(this.sessionId);
      return { ok: true };
    } catch (error) {
      if (error instanceof ApiError) return { ok: false, code: error.code, message: error.message };
      return { ok: false, code: 'unknown', message: String(error) };
    }
  }

  dismissToast(id: number): void {
    this.update({ toasts: this.snapshot.toasts.filter((t) => t.id !== id) });
  }

  private control(frame: ServerFrame): void {
    if (frame.type === 'ack' && frame.ref) this.settle(frame.ref, { ok: true });
    else if (frame.type === 'error' && frame.ref) this.settle(frame.ref, outcomeOf(frame));
    else if (frame.type === 'replay_complete') {
      this.flush();
      this.update({ caughtUp: true });
      if (this.snapshot.meta === null) void this.loadMeta(); // the first load failed
      this.closeWhenFinished();
    }
  }

  /** The hub says what this tab shows is void: start from an empty view, which the
   * replay that follows fills again, and say why the log starts over. */
  private reset(): void {
    if (this.flushHandle !== null) window.clearTimeout(this.flushHandle);
    this.flushHandle = null;
    this.inbox = [];
    const toasts = [...this.snapshot.toasts, { id: ++this.toastId, text: HISTORY_RESET }];
    this.update({ store: emptySession, caughtUp: false, toasts });
  }

  private settle(ref: string, outcome: AnswerOutcome): void {
    const pending = this.inFlight.get(ref);
    if (!pending) return;
    this.inFlight.delete(ref);
    clearTimeout(pending.timer);
    pending.resolve(outcome);
  }

  private failInFlight(message: string): void {
    for (const ref of [...this.inFlight.keys()]) this.settle(ref, { ok: false, code: 'disconnected', message });
  }

  /** Events arrive one frame at a time; the view is redrawn at most once a frame. */
  private queue(event: Event): void {
    this.inbox.push(event);
    if (this.flushHandle === null) {
      const delay = document.visibilityState === 'visible' ? 16 : 200;
      this.flushHandle = window.setTimeout(() => this.flush(), delay);
    }
  }

  private flush(): void {
    if (this.flushHandle !== null) window.clearTimeout(this.flushHandle);
    this.flushHandle = null;
    if (this.inbox.length === 0) return;
    const events = this.inbox;
    this.inbox = [];
    const before = this.snapshot.store;
    const store = applyEvents(before, events);
    const toasts = this.snapshot.caughtUp ? this.answerToasts(before, events) : this.snapshot.toasts;
    this.update({ store, toasts });
    this.reloadWhenEnded(before);
    this.closeWhenFinished();
  }

  /** "Answered by you": for requests this tab showed but another tab (or person) answered. */
  private answerToasts(before: SessionState, events: readonly Event[]): readonly Toast[] {
    let toasts = this.snapshot.toasts;
    for (const e of events) {
      if (e.type !== 'request_answered' || this.answeredHere.has(e.request_id)) continue;
      const request = before.pending.find((r) => r.request_id === e.request_id);
      if (!request) continue;
      const what = e.kind === 'confirm' ? (e.value === true ? 'confirmed' : 'declined') : e.kind === 'retry' ? (e.value === true ? 'retried' : 'given up') : 'answered';
      // "You" only when this is the owner's own session (an older hub sends no `access`);
      // someone it is shared with, or a link's holder, is told who it was.
      const access = this.snapshot.meta?.access ?? 'owner';
      const text = access === 'owner' && this.link === null && e.by === this.snapshot.meta?.owner
        ? `“${request.prompt}” was ${what} by you in another tab.`
        : `“${request.prompt}” was ${what} by ${e.by}.`;
      toasts = [...toasts, { id: ++this.toastId, text }];
    }
    return toasts;
  }

  /** The session just ended live: its record now holds what the events do not carry (the
   * traceback, sent only to the owner) — load it once. */
  private reloadWhenEnded(before: SessionState): void {
    const status = this.snapshot.store.status;
    const meta = this.snapshot.meta;
    const ended = status !== null && TERMINAL.has(status) && (before.status === null || !TERMINAL.has(before.status));
    if (ended && meta !== null && !TERMINAL.has(meta.status)) void this.loadMeta();
  }

  /** A finished session sends nothing more: free the hub's connection. */
  private closeWhenFinished(): void {
    const status = this.snapshot.store.status;
    if (this.snapshot.caughtUp && status !== null && TERMINAL.has(status) && this.snapshot.connection.phase !== 'closed') {
      this.socket.stop();
    }
  }

  private update(patch: Partial<SessionSnapshot>): void {
    if (this.disposed) return;
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of this.listeners) listener();
  }
}

function outcomeOf(frame: ErrorFrame): AnswerOutcome {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(frame.fields ?? {})) if (v !== undefined) fields[k] = v;
  return { ok: false, code: frame.code, message: frame.message, fields };
}
