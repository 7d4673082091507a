import { useRef, useState } from 'react';
import type { Session, TaskInfo } from '../protocol';
import { ApiError, api } from '../lib/api';
import { useNow, usePoll } from '../lib/hooks';
import { Link } from '../lib/router';
import { age } from '../lib/time';
import { StatusBadge } from './StatusBadge';

/** The user's sessions, newest first, refreshed while the page is open. */
export function SessionList({ tasks }: { tasks: ReadonlyMap<string, TaskInfo> }) {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [older, setOlder] = useState<Session[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const now = useNow(true, 30_000);

  const statusRef = useRef('');
  const pagedRef = useRef(false); // "Older sessions" was used: keep its cursor
  const load = (wanted: string): void => {
    api.sessions({ limit: 20, status: wanted }).then(
      (page) => {
        if (wanted !== statusRef.current) return; // the filter changed meanwhile
        setSessions(page.sessions);
        if (!pagedRef.current) setNext(page.next);
        setError(null);
      },
      (e: unknown) => setError(e instanceof ApiError ? e.message : 'Could not load your sessions.'),
    );
  };
  usePoll(() => load(statusRef.current), 4000);

  const filter = (value: string): void => {
    statusRef.current = value;
    pagedRef.current = false;
    setStatus(value);
    setSessions(null);
    setOlder([]);
    setNext(null);
    load(value);
  };

  const loadMore = async (): Promise<void> => {
    if (!next) return;
    pagedRef.current = true;
    try {
      const page = await api.sessions({ limit: 20, before: next, status });
      setOlder((o) => [...o, ...page.sessions]);
      setNext(page.next);
    } catch (e: unknown) {
      setError(e instanceof ApiError ? e.message : 'Could not load older sessions.');
    }
  };

  const seen = new Set<string>();
  const all = [...(sessions ?? []), ...older].filter((s) => (seen.has(s.id) ? false : (seen.add(s.id), true)));

  return (
    <section aria-labelledby="sessions-title">
      <div className="page-head">
        <h1 id="sessions-title">Your sessions</h1>
        <div className="head-actions">
          <label className="filter">
            <span className="sr-only">Show</span>
            <select value={status} onChange={(e) => filter(e.target.value)} aria-label="Show sessions with status">
              <option value="">All sessions</option>
              <option value="waiting">Waiting for you</option>
              <option value="running">Running</option>
              <option value="completed">Completed</option>
              <option value="failed">Failed</option>
              <option value="cancelled">Cancelled</option>
            </select>
          </label>
          <Link to="/" className="button">Start a task</Link>
        </div>
      </div>
      {error && <p className="form-error" role="alert">{error}</p>}
      {sessions === null && !error && <p className="muted">Loading…</p>}
      {sessions !== null && all.length === 0 && (
        <div className="card empty-state">
          <p>{status ? 'No sessions with this status.' : 'No sessions yet.'}</p>
          <p><Link to="/" className="button primary">Browse tasks</Link></p>
        </div>
      )}
      {all.length > 0 && (
        <ul className="session-list">
          {all.map((s) => (
            <li key={s.id}>
              <Link to={`/sessions/${encodeURIComponent(s.id)}`} className="session-row" data-session={s.id}>
                <span className="session-task">{tasks.get(s.task)?.title ?? s.task}</span>
                <StatusBadge status={s.status} />
                {s.pending.length > 0 && (
                  <span className="pending-pill">{s.pending.length} waiting for you</span>
                )}
                <span className="muted small session-age" title={new Date(s.created_at).toLocaleString()}>
                  {age(s.created_at, now)}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {next && (
        <div className="center">
          <button type="button" className="button" onClick={() => void loadMore()}>Older sessions</button>
        </div>
      )}
    </section>
  );
}
