import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Me, TaskInfo } from './protocol';
import { ApiError, api } from './lib/api';
import { usePoll } from './lib/hooks';
import { filtersFromSearch, sessionsUrl } from './lib/filters';
import { Link, matchRoute, navigate, usePath, useSearch } from './lib/router';
import { LoginForm } from './components/LoginForm';
import { SessionList } from './components/SessionList';
import { SessionView } from './components/SessionView';
import { StartForm } from './components/StartForm';
import { TaskCatalog } from './components/TaskCatalog';

export function App() {
  const path = usePath();
  const route = matchRoute(path);
  const search = useSearch();
  const [tasks, setTasks] = useState<TaskInfo[] | null>(null);
  const [tasksError, setTasksError] = useState<string | null>(null);

  // Who this browser is. In single-person mode the first answer also gives it its identity
  // cookie (needed by sockets); with accounts, 401 means "log in first".
  const [me, setMe] = useState<Me | null>(null);
  const [needsLogin, setNeedsLogin] = useState(false);
  const [identityError, setIdentityError] = useState<string | null>(null);
  useEffect(() => {
    api.me().then(setMe, (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) setNeedsLogin(true);
      else setIdentityError(e instanceof ApiError ? e.message : 'Could not reach the hub.');
    });
  }, []);
  useEffect(() => {
    if (needsLogin && route.page !== 'login') navigate('/login', { replace: true });
  }, [needsLogin, route.page]);
  useEffect(() => {
    if (me === null) return;
    api.tasks().then(setTasks, (e: unknown) => setTasksError(e instanceof ApiError ? e.message : 'Could not load the tasks.'));
  }, [me]);
  useEffect(() => {
    if (identityError !== null) setTasksError(identityError);
  }, [identityError]);
  const loggedIn = useCallback((who: Me) => {
    setMe(who);
    setNeedsLogin(false);
    navigate('/', { replace: true });
  }, []);
  const logout = useCallback(() => {
    const done = (): void => {
      setMe(null);
      setTasks(null);
      setNeedsLogin(true);
      navigate('/login', { replace: true });
    };
    api.logout().then(done, done);
  }, []);
  const byName = useMemo(() => new Map((tasks ?? []).map((t) => [t.name, t])), [tasks]);

  const waiting = useWaitingCount(tasks !== null || tasksError !== null);
  useEffect(() => {
    document.title = waiting.total > 0 ? `(${waiting.total}) Tether` : 'Tether';
  }, [waiting.total]);

  let page;
  switch (route.page) {
    case 'catalog':
      page = <TaskCatalog tasks={tasks} error={tasksError} />;
      break;
    case 'start': {
      const task = byName.get(route.task);
      page = task ? <StartForm key={task.name} task={task} /> : tasks === null ? <p className="muted">Loading…</p> : <NotFound what="task" />;
      break;
    }
    case 'sessions': {
      const filters = filtersFromSearch(search);
      // A new filter is a new list (its own pages and cursor).
      page = <SessionList key={sessionsUrl(filters)} tasks={byName} filters={filters} />;
      break;
    }
    case 'session':
      // Until the catalogue has answered, the session's view is not known.
      page = <SessionView key={route.id} sessionId={route.id} tasks={tasks === null && tasksError === null ? null : byName} onPending={waiting.report} />;
      break;
    case 'login':
      page = me === null ? <LoginForm onLoggedIn={loggedIn} /> : <p className="muted">You are logged in as {me.name}.</p>;
      break;
    case 'not_found':
      page = <NotFound what="page" />;
  }
  if (needsLogin && me === null) page = <LoginForm onLoggedIn={loggedIn} />;

  return (
    <>
      <a href="#main" className="skip-link">Skip to content</a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/" className="brand" aria-label="Tether home">
            <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
              <circle cx="11" cy="16" r="6.5" fill="none" stroke="currentColor" strokeWidth="3" />
              <circle cx="21" cy="16" r="6.5" fill="none" stroke="currentColor" strokeWidth="3" />
            </svg>
            Tether
          </Link>
          <nav className="nav" aria-label="Main">
            <Link to="/" aria-current={route.page === 'catalog' || route.page === 'start' ? 'page' : undefined}>Tasks</Link>
            <Link to="/sessions" aria-current={route.page === 'sessions' || route.page === 'session' ? 'page' : undefined}>
              Sessions
              {waiting.total > 0 && <span className="nav-count" aria-label={`${waiting.total} waiting for you`}>{waiting.total}</span>}
            </Link>
          </nav>
          {me !== null && me.mode !== 'anonymous' && (
            <div className="whoami">
              <span>Logged in as <strong data-testid="whoami">{me.name}</strong></span>
              {me.mode === 'accounts' && <button type="button" className="button" onClick={logout}>Log out</button>}
            </div>
          )}
        </div>
      </header>
      <main id="main" className="main">{page}</main>
    </>
  );
}

function NotFound({ what }: { what: string }) {
  return (
    <section className="narrow empty-state">
      <h1>No such {what}</h1>
      <p><Link to="/" className="button">Back to the tasks</Link></p>
    </section>
  );
}

/** Requests waiting across the user's sessions: polled, with the open session's live count
 * standing in for its polled one, and the last live count of a session the user just left
 * (e.g. for the session forked from it) standing in until the next poll. */
function useWaitingCount(identified: boolean): { total: number; report: (sessionId: string, count: number | null) => void } {
  const [polled, setPolled] = useState<ReadonlyMap<string, number>>(new Map());
  const [live, setLive] = useState<{ id: string; count: number } | null>(null);
  const [left, setLeft] = useState<ReadonlyMap<string, number>>(new Map());
  const liveRef = useRef<{ id: string; count: number } | null>(null);
  usePoll(() => {
    api.sessions({ status: 'waiting', limit: 100 }).then(
      (page) => {
        setPolled(new Map(page.sessions.map((s) => [s.id, s.pending.length])));
        setLeft(new Map());
      },
      () => undefined,
    );
  }, 5000, 15000, identified);
  const report = useCallback((id: string, count: number | null) => {
    const current = liveRef.current;
    if (count !== null) {
      liveRef.current = { id, count };
    } else if (current?.id === id) {
      liveRef.current = null;
      setLeft((m) => new Map(m).set(id, current.count));
    }
    setLive(liveRef.current);
  }, []);
  let total = live?.count ?? 0;
  for (const [id, count] of polled) if (id !== live?.id && !left.has(id)) total += count;
  for (const [id, count] of left) if (id !== live?.id) total += count;
  return { total, report };
}
