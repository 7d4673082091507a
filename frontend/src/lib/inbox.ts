// The inbox page's logic (GET /api/requests?status=open), free of React.
//
// The app reads the newest MOST open requests the user may answer every POLL_MS (every
// HIDDEN_POLL_MS in a hidden tab) and after each answer (useInbox.ts); the page shows the
// first `want` of them, and "Show more" raises `want` by a page. Re-reading the head is
// simpler than merging cursor pages, and an inbox is a list of open questions, not an
// archive: a hundred is plenty to show at once.
import type { InboxItem } from '../protocol';
import type { AnswerOutcome } from '../session/controller';
import { ApiError } from './api';

export const POLL_MS = 10_000;
export const HIDDEN_POLL_MS = 30_000;
export const PAGE = 20;
export const MOST = 100; // the hub's largest `limit`

export function itemKey(item: Pick<InboxItem, 'session_id' | 'request'>): string {
  return `${item.session_id}/${item.request.request_id}`;
}

/** How many requests wait in each session (for the title's count). */
export function countByOrigin(items: readonly InboxItem[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.session_id, (counts.get(item.session_id) ?? 0) + 1);
  return counts;
}

/** The items still to show: those answered from this page leave at once, before the
 * next read confirms it. */
export function stillOpen(items: readonly InboxItem[], answered: ReadonlySet<string>): InboxItem[] {
  return items.filter((item) => !answered.has(itemKey(item)));
}

/** Forget answered keys the hub no longer lists (they will not come back). */
export function pruneAnswered(answered: ReadonlySet<string>, items: readonly InboxItem[]): Set<string> {
  const listed = new Set(items.map(itemKey));
  return new Set([...answered].filter((key) => listed.has(key)));
}

/** How many to read after "Show more". */
export function moreWanted(want: number): number {
  return Math.min(MOST, want + PAGE);
}

/** An HTTP answer's outcome, in the shape the request forms take. */
export async function answerOutcome(answer: Promise<unknown>): Promise<AnswerOutcome> {
  try {
    await answer;
    return { ok: true };
  } catch (e: unknown) {
    if (e instanceof ApiError) return { ok: false, code: e.code, message: e.message, fields: e.fields };
    return { ok: false, message: 'The answer could not be sent.' };
  }
}

/** "bob" for `user:bob`, the id itself for anything else. */
export function askedBy(owner: string): string {
  return owner.startsWith('user:') ? owner.slice(5) : owner === '' ? 'someone' : owner;
}
