import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Me, Request, Session, TaskInfo } from '../protocol';
import { TERMINAL } from '../protocol';
import { ApiError, api } from '../lib/api';
import { useSession } from '../lib/hooks';
import { Link, navigate } from '../lib/router';
import type { SessionController, Toast } from '../session/controller';
import { cancelText, cancelledBy, failurePanel, forkOrigin } from '../session/outcome';
import { mayAnswer, permissionsFor } from '../session/permissions';
import { problemText } from '../session/refusals';
import { type LogLine, type SessionState, forkPoint } from '../session/store';
import { GenericView, VIEWS, claimedInPlace, resolveView } from '../views';
import { ConnectionBadge } from './ConnectionBadge';
import { EventLog } from './EventLog';
import { RequestDialog } from './RequestDialog';
import { RequestList } from './RequestList';
import { ShareDialog } from './ShareDialog';
import { StatusBadge } from './StatusBadge';
import { ValueView } from './ValueView';

interface Props {
  sessionId: string;
  /** The catalogue; null while it loads (the task's view is not known yet). */
  tasks: ReadonlyMap<string, TaskInfo> | null;
  /** Tell the app how many requests wait here for this viewer (for the title badge). */
  onPending: (sessionId: string, count: number | null) => void;
  /** Who is looking (null: nobody logged in, e.g. a share link's holder). */
  me: Me | null;
  /** The share link the page was opened with (`?link=TOKEN`), or null. */
  link: string | null;
}

/** One session, live: status, requests, progress, state, outcome and the log. What the
 * caller may do (answer, cancel, fork, share) follows their access level on it. */
export function SessionView({ sessionId, tasks, onPending, me, link }: Props) {
  const { snapshot, controller } = useSession(sessionId, link);
  const { meta, store, connection, caughtUp, toasts } = snapshot;
  const [openId, setOpenId] = useState<string | null>(null);
  const [dismissed, setDismissed] = useState<ReadonlySet<string>>(new Set());
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const [sharing, setSharing] = useState(false);
  const permissions = useMemo(() => permissionsFor(meta?.access, link !== null), [meta?.access, link]);
  const canAnswer = useCallback((r: Request) => mayAnswer(permissions, r, me), [permissions, me]);
  const fork = useFork(sessionId);
  const forkAt = useCallback((line: LogLine) => forkPoint({ requests: store.requests }, line), [store.requests]);
  // Set by a fork's navigation (below); the hub's `forked_from` says the same, and more.
  const fromHint = useMemo(() => new URLSearchParams(window.location.search).get('from'), []);
  const origin = forkOrigin(meta, fromHint);

  const task = meta && tasks ? tasks.get(meta.task) : undefined;
  // Until the catalogue and the session have loaded, the view (and what it answers in
  // place) is not known: no dialog opens before. A session that could not be loaded gets
  // the generic view.
  const viewKnown = tasks !== null && (meta !== null || snapshot.loadError !== null);
  const resolved = useMemo(() => resolveView(VIEWS, task?.view), [task?.view]);
  const pending = store.pending;
  const finished = store.status !== null && TERMINAL.has(store.status);

  // Only what this caller may answer waits for them (a viewer's page adds nothing).
  const forMe = pending.filter(canAnswer).length;
  useEffect(() => {
    onPending(sessionId, caughtUp ? forMe : null);
  }, [sessionId, caughtUp, forMe, onPending]);
  useEffect(() => () => onPending(sessionId, null), [sessionId, onPending]);

  // Open the oldest request nobody dismissed, once the replay has caught up.
  const current = pending.find((r) => r.request_id === openId && canAnswer(r)) ?? null;
  useEffect(() => {
    if (!caughtUp || !viewKnown || current !== null) return;
    const next = pending.find((r) => canAnswer(r) && !dismissed.has(r.request_id) && !claimedInPlace(resolved, r));
    setOpenId(next ? next.request_id : null);
  }, [caughtUp, viewKnown, current, pending, dismissed, resolved, canAnswer]);

  const answer = (request: Request, value: unknown) =>
    controller ? controller.answer(request, value) : Promise.resolve({ ok: false, message: 'Not connected yet.' });

  // "Later" puts aside everything waiting now; only requests that arrive afterwards open
  // by themselves. The list still answers any of them.
  const dismiss = (): void => {
    setDismissed((d) => new Set([...d, ...pending.map((r) => r.request_id)]));
    setOpenId(null);
  };

  const open = (request: Request): void => {
    if (claimedInPlace(resolved, request)) {
      // Answered in place: take the reader there.
      const form = document.querySelector<HTMLElement>(`.inline-request[data-request="${CSS.escape(request.request_id)}"]`);
      form?.scrollIntoView({ behavior: 'smooth', block: 'center' });
      form?.querySelector<HTMLElement>('input, textarea, select')?.focus({ preventScroll: true });
      return;
    }
    setDismissed((d) => {
      const copy = new Set(d);
      copy.delete(request.request_id);
      return copy;
    });
    setOpenId(request.request_id);
  };

  if (snapshot.missing !== null) {
    return (
      <section className="narrow empty-state">
        <h1>{link !== null ? 'This link no longer works' : 'Session not found'}</h1>
        <p className="muted not-found-reason">
          {snapshot.missing || <>There is no session <code>{sessionId}</code>, or it belongs to someone else.</>}
        </p>
        {me !== null && <p><Link to="/sessions" className="button">Your sessions</Link></p>}
      </section>
    );
  }

  const title = task?.title ?? meta?.task ?? 'Session';
  const View = resolved.kind === 'registered' ? resolved.view.component : GenericView;
  const showsInputs = resolved.kind === 'registered' && resolved.view.showsInputs === true;

  return (
    <section className="session" aria-labelledby="session-title" data-session={sessionId}>
      {link === null && <nav className="crumbs"><Link to="/sessions">← Sessions</Link></nav>}
      <header className="session-head">
        <div className="session-title">
          <h1 id="session-title">{title}</h1>
          <code className="muted small">{sessionId}</code>
          {origin && (
            <p className="muted small forked-from">
              Forked from <Link to={`/sessions/${encodeURIComponent(origin.session_id)}`}>{origin.session_id}</Link>
              {origin.at_seq !== null && <> at event {origin.at_seq.toLocaleString()}</>}
            </p>
          )}
        </div>
        <div className="session-badges">
          <StatusBadge status={store.status ?? meta?.status ?? null} forYou={pending.some(canAnswer)} />
          <ConnectionBadge state={connection} onRetryNow={() => controller?.reconnectNow()} />
          {permissions.readOnly && (
            <span className="badge badge-readonly" data-testid="read-only" title="You can watch this session but not change it.">read-only</span>
          )}
          {permissions.share && (
            <button type="button" className="button small" onClick={() => setSharing(true)}>Share</button>
          )}
          {permissions.cancel && !finished && store.status !== null && (
            <button type="button" className="button danger-ghost small" onClick={() => setConfirmCancel(true)}>
              Cancel task
            </button>
          )}
        </div>
      </header>
      {permissions.viaLink && <p className="muted small shared-by-link">Shared with you by a link.</p>}
      {snapshot.loadError && <p className="form-error" role="alert">{snapshot.loadError}</p>}
      {cancelError && <p className="form-error" role="alert">{cancelError}</p>}
      {fork.error && <p className="form-error" role="alert">{fork.error}</p>}

      <RequestList requests={pending} onOpen={open} mayAnswer={canAnswer} readOnly={permissions.readOnly} />

      {store.progress.length > 0 && (
        <section className="card progress-card" aria-label="Progress">
          {store.progress.map((p) => <ProgressBar key={p.label} label={p.label} done={p.done} total={p.total} />)}
        </section>
      )}

      <Outcome store={store} meta={meta} />

      {viewKnown && resolved.kind === 'generic' && resolved.unknown !== null && (
        <p className="muted small view-note" data-unknown-view={resolved.unknown}>
          This task asks for the view “{resolved.unknown}”, which this app does not have; it is shown the general way.
        </p>
      )}
      {viewKnown && <View session={store} meta={meta} answer={answer} mayAnswer={canAnswer} controller={controller} />}

      <section className="card log-card" aria-labelledby="log-title">
        <div className="log-head">
          <h2 id="log-title">Log</h2>
          <span className="muted small">{store.lines.length.toLocaleString()} lines</span>
        </div>
        <EventLog lines={store.lines} me={link !== null ? null : (me?.id ?? meta?.owner ?? null)} forkAt={forkAt} {...(permissions.fork ? { onFork: fork.start } : {})} busy={fork.busy} />
      </section>

      {meta && viewKnown && !showsInputs && Object.keys(meta.inputs).length > 0 && (
        <details className="card inputs">
          <summary>Inputs</summary>
          <ValueView value={meta.inputs} />
        </details>
      )}

      {current && !finished && canAnswer(current) && (
        <RequestDialog key={current.request_id} request={current} onAnswer={answer} onDismiss={dismiss} />
      )}
      {sharing && <ShareDialog sessionId={sessionId} onClose={() => setSharing(false)} />}
      {confirmCancel && permissions.cancel && controller && !finished && (
        <CancelDialog
          onClose={() => setConfirmCancel(false)}
          onConfirm={async () => {
            const outcome = await controller.cancel();
            setConfirmCancel(false);
            setCancelError(outcome.ok || outcome.code === 'already_finished' ? null : problemText(outcome.code, outcome.message, 'cancel', 'Could not cancel.'));
          }}
        />
      )}
      <Toasts toasts={toasts} controller={controller} />
    </section>
  );
}

/** "Fork from here": make the new session, then show it (one fork at a time). */
function useFork(sessionId: string): { start: (atSeq: number) => void; busy: boolean; error: string | null } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inFlight = useRef(false);
  const start = useCallback((atSeq: number) => {
    if (inFlight.current) return;
    inFlight.current = true;
    setBusy(true);
    setError(null);
    api.fork(sessionId, atSeq).then(
      (forked) => navigate(`/sessions/${encodeURIComponent(forked.id)}?from=${encodeURIComponent(sessionId)}`),
      (e: unknown) => setError(e instanceof ApiError ? (e.code === 'forbidden' ? problemText(e.code, e.message, 'fork', '') : `Could not fork: ${e.message}`) : 'Could not fork the session.'),
    ).finally(() => {
      inFlight.current = false;
      setBusy(false);
    });
  }, [sessionId]);
  return { start, busy, error };
}

function ProgressBar({ label, done, total }: { label: string; done: number; total: number }) {
  const pct = total > 0 ? Math.min(100, Math.max(0, (done / total) * 100)) : 0;
  return (
    <div className="progress">
      <div className="progress-label">
        <span>{label || 'Progress'}</span>
        <span className="muted">{done.toLocaleString()} / {total.toLocaleString()}</span>
      </div>
      <div className="progress-track" role="progressbar" aria-label={label || 'Progress'} aria-valuemin={0} aria-valuemax={total} aria-valuenow={done}>
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

function Outcome({ store, meta }: { store: SessionState; meta: Session | null }) {
  if (store.status === 'completed' && store.result) {
    return (
      <section className="card outcome outcome-ok" aria-labelledby="result-title">
        <h2 id="result-title">Result</h2>
        <ValueView value={store.result.value} />
      </section>
    );
  }
  if (store.status === 'failed') {
    const failure = failurePanel(store.failure, meta);
    return (
      <section className="card outcome outcome-failed" aria-labelledby="failure-title">
        <h2 id="failure-title">The task failed</h2>
        <p className="failure-message">
          {failure.type && <code className="failure-type">{failure.type}</code>}
          {failure.type && ': '}
          {failure.message}
        </p>
        {failure.traceback && (
          <details className="traceback">
            <summary>Traceback</summary>
            <pre className="text-block">{failure.traceback}</pre>
          </details>
        )}
      </section>
    );
  }
  if (store.status === 'cancelled') {
    const by = cancelledBy(store.cancelledBy, meta);
    const reason = store.cancelReason ?? meta?.cancel_reason ?? null;
    return (
      <section className="card outcome outcome-cancelled" aria-labelledby="cancelled-title">
        <h2 id="cancelled-title">Cancelled</h2>
        <p className="muted cancelled-by">{cancelText(by, reason, meta?.owner ?? null)}</p>
      </section>
    );
  }
  return null;
}

function CancelDialog({ onClose, onConfirm }: { onClose: () => void; onConfirm: () => Promise<void> }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog?.showModal();
    return () => {
      dialog?.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog ref={ref} className="dialog small" aria-labelledby="cancel-title" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <h2 id="cancel-title">Cancel this task?</h2>
      <p className="muted">It stops where it is and cannot be resumed.</p>
      <div className="form-actions">
        <button type="button" className="button danger" disabled={busy} onClick={() => { setBusy(true); void onConfirm(); }}>
          {busy ? 'Cancelling…' : 'Cancel task'}
        </button>
        <button type="button" className="button" onClick={onClose} autoFocus>
          Keep running
        </button>
      </div>
    </dialog>
  );
}

function Toasts({ toasts, controller }: { toasts: readonly Toast[]; controller: SessionController | null }) {
  const latest = toasts[toasts.length - 1];
  useEffect(() => {
    if (!latest || !controller) return;
    const timer = setTimeout(() => controller.dismissToast(latest.id), 8000);
    return () => clearTimeout(timer);
  }, [latest, controller]);
  const items = useMemo(() => toasts.slice(-3), [toasts]);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} className="toast">
          <span>{t.text}</span>
          <button type="button" className="link-button" aria-label="Dismiss" onClick={() => controller?.dismissToast(t.id)}>✕</button>
        </div>
      ))}
    </div>
  );
}
