import { useEffect, useState } from 'react';
import type { InboxItem, Me, Request } from '../protocol';
import type { NotifyControl } from '../alerts/useInboxAlerts';
import { api } from '../lib/api';
import { dueIn, reminder, waited } from '../lib/deadline';
import { useNow } from '../lib/hooks';
import { MOST, PAGE, answerOutcome, askedBy, itemKey, moreWanted, pruneAnswered, stillOpen } from '../lib/inbox';
import { Link } from '../lib/router';
import type { InboxFeed } from '../lib/useInbox';
import { waitingFor } from '../session/assignees';
import { NotifyToggle } from './NotifyToggle';
import { type AnswerFn, RequestBody } from './RequestDialog';

/** Every open question the user may answer, across sessions, each answerable in place,
 * with when it is due and how long it has waited. It shows the app's inbox poll
 * (lib/useInbox.ts), read again after each answer. */
export function InboxPage({ me, inbox, notify }: { me: Me | null; inbox: InboxFeed; notify: NotifyControl }) {
  const [want, setWant] = useState(PAGE);
  const [answered, setAnswered] = useState<ReadonlySet<string>>(new Set());
  const now = useNow(true, 30_000);
  const { page, error, refresh } = inbox;
  useEffect(refresh, [refresh]); // opening the page reads it afresh, not at the next tick

  // Keys answered here stay hidden until the hub stops listing them.
  const [prunedFor, setPrunedFor] = useState(page);
  if (page !== prunedFor) {
    setPrunedFor(page);
    if (page !== null) setAnswered((a) => pruneAnswered(a, page.requests));
  }

  const answerFor = (item: InboxItem): AnswerFn => async (request: Request, value: unknown) => {
    const outcome = await answerOutcome(api.answer(item.session_id, request.request_id, value));
    if (outcome.ok || outcome.code === 'already_answered' || outcome.code === 'unknown_request') {
      setAnswered((a) => new Set([...a, itemKey(item)]));
      refresh();
    }
    return outcome;
  };

  const open = page ? stillOpen(page.requests, answered) : [];
  const items = open.slice(0, want);
  const more = open.length > want || (page?.next ?? null) !== null;
  return (
    <section className="inbox" aria-labelledby="inbox-title">
      <header className="page-head">
        <h1 id="inbox-title">Inbox</h1>
        <NotifyToggle notify={notify} />
        <p className="muted">Questions waiting for you{me && me.groups.length > 0 ? ` or ${waitingFor(me.groups.map((g) => `group:${g}`))}` : ''}, newest first.</p>
      </header>
      {error && <p className="form-error" role="alert">{error}</p>}
      {page === null && error === null && <p className="muted">Loading…</p>}
      {page !== null && items.length === 0 && (
        <div className="card empty-state">
          <p>Nothing waits for you.</p>
        </div>
      )}
      <ul className="inbox-list">
        {items.map((item) => <InboxEntry key={itemKey(item)} item={item} now={now} onAnswer={answerFor(item)} />)}
      </ul>
      {more && want < MOST && (
        <button type="button" className="button" onClick={() => setWant(moreWanted(want))}>Show more</button>
      )}
      {more && want >= MOST && <p className="muted small">Showing the {MOST} newest.</p>}
    </section>
  );
}

function InboxEntry({ item, now, onAnswer }: { item: InboxItem; now: number; onAnswer: AnswerFn }) {
  const key = itemKey(item);
  const due = dueIn(item.request.expires_at, now);
  const reminded = reminder(item.request, now);
  const urgency = due?.urgency ?? 'none';
  return (
    <li className={`card inbox-item due-${urgency}`} data-session={item.session_id} data-request={item.request.request_id} data-due={urgency}>
      <p className="inbox-origin muted small">
        {(urgency === 'soon' || urgency === 'overdue') && (
          <span className={`due-mark due-mark-${urgency}`}>{urgency === 'soon' ? 'Due soon' : 'Overdue'}</span>
        )}
        <Link to={`/sessions/${encodeURIComponent(item.session_id)}`} className="inbox-task">{item.title}</Link>
        {item.summary && <span className="inbox-summary"> · {item.summary}</span>}
        <span className="inbox-asked"> · asked by <strong>{askedBy(item.owner)}</strong></span>
        <time dateTime={item.opened_at} className="inbox-since" title={new Date(item.opened_at).toLocaleString()}> · {waited(item.opened_at, now)}</time>
        {due && item.request.expires_at && (
          <time dateTime={item.request.expires_at} className={`inbox-due due-${due.urgency}`} title={new Date(item.request.expires_at).toLocaleString()}>
            {' · '}{due.text}
          </time>
        )}
        {reminded && <span className="inbox-reminder"> · {reminded}</span>}
        {item.request.assignees && item.request.assignees.length > 0 && (
          <span className="inbox-for"> · for {waitingFor(item.request.assignees)}</span>
        )}
      </p>
      <RequestBody request={item.request} onAnswer={onAnswer} titleId={`inbox-${key}`} />
    </li>
  );
}
