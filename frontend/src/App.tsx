import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { InboxItem, Me, TaskInfo } from './protocol';
import { ApiError, api } from './lib/api';
import { useInbox } from './lib/useInbox';
import { filtersFromSearch, sessionsUrl } from './lib/filters';
import { linkFromSearch } from './lib/linkToken';
import { choiceFromSearch, nextFromSearch } from './lib/answerLink';
import { countByOrigin } from './lib/inbox';
import { Link, matchRoute, navigate, usePath, useSearch } from './lib/router';
import { AnswerLinkPage } from './components/AnswerLinkPage';
import { LoginForm } from './components/LoginForm';
import { InboxPage } from './components/InboxPage';
import { SessionList } from './components/SessionList';
import { SessionView } from './components/SessionView';
import { StartForm } from './components/StartForm';
import { TaskCatalog } from './components/TaskCatalog';
import { FaviconBadge } from './alerts/favicon';
import { useInboxAlerts } from './alerts/useInboxAlerts';

export function App() {
  const path = usePath();
  const route = matchRoute(path);
  const search = useSearch();
  const [tasks, setTasks] = useState<TaskInfo[] | null>(null);
  const [tasksError, setTasksError] = useState<string | null>(null);
  // A share link (`/sessions/{id}?link=TOKEN`) needs no login: its token is the credential;
  // nor does an answer link from a mail (`/answer/{token}`).
  const link = route.page === 'session' ? linkFromSearch(search) : null;
  const needsNoLogin = link !== null || route.page === 'answer';

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
    if (needsLogin && route.page !== 'login' && !needsNoLogin) navigate('/login', { replace: true });
  }, [needsLogin, route.page, needsNoLogin]);
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
    // Back where the login was asked for (an answer link's page), else the start.
    navigate(nextFromSearch(window.location.search) ?? '/', { replace: true });
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

  const inbox = useInbox(me !== null);
  const waiting = useWaitingCount(inbox.page?.requests ?? null);
  const favicon = useMemo(() => new FaviconBadge(document), []);
  useEffect(() => {
    document.title = waiting.total > 0 ? `(${waiting.total}) Tether` : 'Tether';
    favicon.show(waiting.total);
  }, [waiting.total, favicon]);
  const notify = useInboxAlerts(me?.id ?? null, inbox.page?.requests ?? null, route.page === 'session' ? route.id : null);

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
      page = <SessionList key={sessionsUrl(filters)} tasks={byName} filters={filters} me={me} />;
      break;
    }
    case 'session':
      // Until the catalogue has answered, the session's view is not known. A link's holder
      // who is not logged in gets no catalogue: the session is drawn the general way.
      page = (
        <SessionView
          key={`${route.id} ${link ?? ''}`}
          sessionId={route.id}
          tasks={tasks === null && tasksError === null && !needsLogin ? null : byName}
          onPending={waiting.report}
          me={me}
          link={link}
        />
      );
      break;
    case 'inbox':
      page = <InboxPage me={me} inbox={inbox} notify={notify} />;
      break;
    case 'answer':
      page = <AnswerLinkPage key={route.token} token={route.token} choice={choiceFromSearch(search)} />;
      break;
    case 'login':
      page = me === null ? <LoginForm onLoggedIn={loggedIn} /> : <p className="muted">You are logged in as {me.name}.</p>;
      break;
    case 'not_found':
      page = <NotFound what="page" />;
  }
  if (needsLogin && me === null && !needsNoLogin) page = <LoginForm onLoggedIn={loggedIn} />;

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
            </Link>
            <Link to="/inbox" aria-current={route.page === 'inbox' ? 'page' : undefined}>
              Inbox
              {waiting.total > 0 && <span className="nav-count" data-testid="inbox-count" aria-label={`${waiting.total} waiting for you`}>{waiting.total}</span>}
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

/** Requests waiting for this user across sessions (their inbox, GET /api/requests):
 * the polled `items`, with the open session's live count standing in for its polled one,
 * and the last live count of a session the user just left (e.g. for the session forked
 * from it) standing in until the next poll. */
function useWaitingCount(items: readonly InboxItem[] | null): {
  total: number; report: (sessionId: string, count: number | null) => void;
} {
  const polled = useMemo(() => countByOrigin(items ?? []), [items]);
  const [live, setLive] = useState<{ id: string; count: number } | null>(null);
  const [left, setLeft] = useState<ReadonlyMap<string, number>>(new Map());
  const liveRef = useRef<{ id: string; count: number } | null>(null);
  useEffect(() => setLeft(new Map()), [items]);
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
