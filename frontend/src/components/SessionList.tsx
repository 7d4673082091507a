import { useRef, useState } from 'react';
import type { Me, TaskInfo } from '../protocol';
import { TERMINAL } from '../protocol';
import { ApiError, api } from '../lib/api';
import { STATUS_FILTERS, type SessionFilters, scopeTabs, sessionsUrl } from '../lib/filters';
import { useNow, usePoll } from '../lib/hooks';
import { Link, navigate } from '../lib/router';
import { type Listing, mergeHead, mergeOlder } from '../lib/sessionPages';
import { age, sessionDuration } from '../lib/time';
import { StatusBadge } from './StatusBadge';

const PAGE = 20;

const TITLE = { own: 'Your sessions', shared: 'Shared with you', all: 'All sessions' } as const;

/** The user's sessions (or those shared with them, or everyone's for an admin), newest
 * first, refreshed while the page is open. The filters come from the URL (the app remounts
 * this list when they change). */
export function SessionList({ tasks, filters, me }: { tasks: ReadonlyMap<string, TaskInfo>; filters: SessionFilters; me: Me | null }) {
  const [listing, setListing] = useState<Listing | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const { status, scope } = filters;
  const tabs = scopeTabs(me);
  const live = listing?.rows.some((s) => !TERMINAL.has(s.status)) ?? false;
  const now = useNow(true, live ? 1000 : 30_000);

  usePoll(() => {
    api.sessions({ limit: PAGE, status, scope }).then(
      (page) => {
        setListing((current) => mergeHead(current, page));
        setError(null);
      },
      (e: unknown) => setError(e instanceof ApiError ? e.message : 'Could not load your sessions.'),
    );
  }, 4000);

  const moreInFlight = useRef(false);
  const loadMore = async (): Promise<void> => {
    const cursor = listing?.next;
    if (!cursor || moreInFlight.current) return;
    moreInFlight.current = true;
    setLoadingMore(true);
    try {
      const page = await api.sessions({ limit: PAGE, before: cursor, status, scope });
      // A poll may have started the list over meanwhile: only a page that continues the
      // list as it is now is appended.
      setListing((current) => (current && current.next === cursor ? mergeOlder(current, page) : current));
    } catch (e: unknown) {
      setError(e instanceof ApiError ? e.message : 'Could not load older sessions.');
    } finally {
      moreInFlight.current = false;
      setLoadingMore(false);
    }
  };

  const rows = listing?.rows ?? [];
  return (
    <section aria-labelledby="sessions-title">
      <div className="page-head">
        <h1 id="sessions-title">{TITLE[scope]}</h1>
        <div className="head-actions">
          <label className="filter">
            <span className="sr-only">Show</span>
            <select
              value={status}
              onChange={(e) => navigate(sessionsUrl({ ...filters, status: e.target.value as SessionFilters['status'] }))}
              aria-label="Show sessions with status"
            >
              <option value="">All sessions</option>
              {STATUS_FILTERS.map((f) => <option key={f.value} value={f.value}>{f.label}</option>)}
            </select>
          </label>
          <Link to="/" className="button">Start a task</Link>
        </div>
      </div>
      {tabs.length > 0 && (
        <nav className="tabs" aria-label="Whose sessions">
          {tabs.map((t) => (
            <Link key={t.scope} to={sessionsUrl({ ...filters, scope: t.scope })} className="tab" aria-current={t.scope === scope ? 'page' : undefined}>
              {t.label}
            </Link>
          ))}
        </nav>
      )}
      {error && <p className="form-error" role="alert">{error}</p>}
      {listing === null && !error && <p className="muted">Loading…</p>}
      {listing !== null && rows.length === 0 && (
        <div className="card empty-state">
          <p>{status ? 'No sessions with this status.' : scope === 'shared' ? 'Nobody has shared a session with you yet.' : 'No sessions yet.'}</p>
          <p><Link to="/" className="button primary">Browse tasks</Link></p>
        </div>
      )}
      {rows.length > 0 && (
        <ul className="session-list">
          {rows.map((s) => (
            <li key={s.id}>
              <Link to={`/sessions/${encodeURIComponent(s.id)}`} className="session-row" data-session={s.id}>
                <span className="session-task">{tasks.get(s.task)?.title ?? s.task}</span>
                <StatusBadge status={s.status} forYou={scope === 'own'} />
                {scope !== 'own' && s.owner !== me?.id && <span className="muted small session-owner">by {s.owner.replace(/^user:/, '')}</span>}
                {s.pending.length > 0 && (
                  <span className="pending-pill">{s.pending.length} {scope === 'own' ? 'waiting for you' : 'waiting'}</span>
                )}
                <span className="muted small session-duration">{sessionDuration(s, now)}</span>
                <span className="muted small session-age" title={new Date(s.created_at).toLocaleString()}>
                  {age(s.created_at, now)}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {listing?.next && (
        <div className="center">
          <button type="button" className="button" disabled={loadingMore} onClick={() => void loadMore()}>
            {loadingMore ? 'Loading…' : 'Older sessions'}
          </button>
        </div>
      )}
    </section>
  );
}
