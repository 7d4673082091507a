// A tiny client-side router: the hub serves index.html for every app path, so
// /sessions/{id} is a real URL that survives a refresh.
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react';

const NAVIGATE = 'tether:navigate';

function subscribe(listener: () => void): () => void {
  window.addEventListener('popstate', listener);
  window.addEventListener(NAVIGATE, listener);
  return () => {
    window.removeEventListener('popstate', listener);
    window.removeEventListener(NAVIGATE, listener);
  };
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAVIGATE));
  window.scrollTo(0, 0);
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

/** The query string (`?status=failed`), so filters kept in the URL survive a reload and
 * follow back and forward. */
export function useSearch(): string {
  return useSyncExternalStore(subscribe, () => window.location.search);
}

export type Route =
  | { page: 'catalog' }
  | { page: 'start'; task: string }
  | { page: 'sessions' }
  | { page: 'session'; id: string }
  | { page: 'login' }
  | { page: 'inbox' }
  | { page: 'answer'; token: string }
  | { page: 'not_found' };

export function matchRoute(path: string): Route {
  let parts: string[];
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { page: 'not_found' }; // a malformed escape such as /sessions/%E0
  }
  if (parts.length === 0) return { page: 'catalog' };
  if (parts[0] === 'login' && parts.length === 1) return { page: 'login' };
  if (parts[0] === 'inbox' && parts.length === 1) return { page: 'inbox' };
  if (parts[0] === 'answer' && parts.length === 2 && parts[1]) return { page: 'answer', token: parts[1] };
  if (parts[0] === 'tasks' && parts.length === 2 && parts[1]) return { page: 'start', task: parts[1] };
  if (parts[0] === 'sessions' && parts.length === 1) return { page: 'sessions' };
  if (parts[0] === 'sessions' && parts.length === 2 && parts[1]) return { page: 'session', id: parts[1] };
  return { page: 'not_found' };
}

export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (e: MouseEvent<HTMLAnchorElement>): void => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
