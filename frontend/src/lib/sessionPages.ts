// The sessions list, page by page. The list's head (the newest page) is polled again and
// again while "Older sessions" pages hang below it, each fetched with a cursor (`before=`
// the oldest id held). Replacing the head with each poll's fixed-size window loses a row
// whenever new sessions arrive: the row that slides off the head is older than the head's
// new end but newer than the cursor the next page was fetched with. So a polled head is
// merged: it is the truth from its oldest row up, and rows held below that stay.
import type { Session, SessionPage } from '../protocol';

export interface Listing {
  /** Newest first (ids are time-ordered: sorting by id is sorting by age), each id once. */
  rows: readonly Session[];
  /** The cursor for the page below the last row; null when there is none. */
  next: string | null;
}

function newestFirst(rows: readonly Session[]): Session[] {
  const seen = new Set<string>();
  return rows
    .filter((s) => (seen.has(s.id) ? false : (seen.add(s.id), true)))
    .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** The newest page, fetched again (`before` unset), merged into what the list holds. */
export function mergeHead(current: Listing | null, head: SessionPage): Listing {
  const fresh: Listing = { rows: newestFirst(head.sessions), next: head.next };
  const oldest = head.sessions[head.sessions.length - 1]?.id;
  // The head holds every session, or the list held nothing below it.
  if (current === null || head.next === null || oldest === undefined) return fresh;
  const newestHeld = current.rows[0]?.id;
  // More sessions arrived than a page holds: between the head and what the list held there
  // may be rows neither has seen. Start over from the head rather than show a hole.
  if (newestHeld === undefined || oldest > newestHeld) return fresh;
  const below = current.rows.filter((s) => s.id < oldest);
  if (below.length === 0) return fresh;
  return { rows: newestFirst([...head.sessions, ...below]), next: current.next };
}

/** The page fetched with `before=current.next`, appended. */
export function mergeOlder(current: Listing, page: SessionPage): Listing {
  const oldest = current.rows[current.rows.length - 1]?.id;
  const older = oldest === undefined ? page.sessions : page.sessions.filter((s) => s.id < oldest);
  return { rows: newestFirst([...current.rows, ...older]), next: page.next };
}
