// A read-only share link (`/sessions/{id}?link=TOKEN`, docs/PROTOCOL.md "Sharing") carries its
// token in the page URL. The token is the holder's only credential: it rides on exactly the
// requests of that one session (its GET routes and its WebSocket) and on nothing else, and
// it lives only in the address bar — never in localStorage or a cookie — so closing the tab
// forgets it.

/** The link token a page URL's query string carries; null when none (or an empty one). */
export function linkFromSearch(search: string): string | null {
  const token = new URLSearchParams(search).get('link');
  return token ? token : null;
}

/** `path` (which may already have a query) with `link=TOKEN` added; unchanged without a token. */
export function withLink(path: string, link: string | null): string {
  if (link === null) return path;
  return `${path}${path.includes('?') ? '&' : '?'}link=${encodeURIComponent(link)}`;
}
