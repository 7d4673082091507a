// How an inbox item reads in time: when it is due (`request.expires_at`), how long it has
// waited, and its reminders. Free of React; `now` is always passed in.
import type { Request } from '../protocol';

/** Within this much of its deadline an item is marked "due soon". */
export const SOON_MS = 60 * 60 * 1000;

export type Urgency = 'overdue' | 'soon' | 'later';

export interface Due {
  /** "due in 2 h", "due in 12 min", "overdue". */
  text: string;
  urgency: Urgency;
}

/** "under a minute", "12 min", "1 h 20 min" (under 3 h), "5 h", "2 days": a span people
 * read at a glance. Minutes round up (a deadline in 30 s is not "0 min" away). */
export function span(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  if (ms < 60_000) return 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 3 && minutes % 60 > 0) return `${hours} h ${minutes % 60} min`;
  if (hours < 24) return `${Math.round(minutes / 60)} h`;
  const days = Math.round(hours / 24);
  return `${days} ${days === 1 ? 'day' : 'days'}`;
}

/** When a request with `expiresAt` is due, seen from `now`; null without a (valid) deadline. */
export function dueIn(expiresAt: string | null | undefined, now: number): Due | null {
  if (expiresAt == null) return null;
  const left = Date.parse(expiresAt) - now;
  if (!Number.isFinite(left)) return null;
  if (left <= 0) return { text: 'overdue', urgency: 'overdue' };
  return { text: `due in ${span(left)}`, urgency: left <= SOON_MS ? 'soon' : 'later' };
}

/** "waiting 25 min" since `openedAt`, "just asked" in its first minute. */
export function waited(openedAt: string, now: number): string {
  const ms = now - Date.parse(openedAt);
  if (!Number.isFinite(ms)) return '';
  if (ms < 60_000) return 'just asked';
  // Rounded down here: it has waited at least this long.
  return `waiting ${span(Math.floor(ms / 60_000) * 60_000)}`;
}

/** "reminded 5 min ago" once a reminder went out, "reminder in 20 min" before one is due,
 * null when the request carries no reminder fields (or they do not parse). */
export function reminder(request: Request, now: number): string | null {
  const sent = parsed(request.reminded_at);
  if (sent !== null) return sent > now - 60_000 ? 'reminded just now' : `reminded ${span(Math.floor((now - sent) / 60_000) * 60_000)} ago`;
  const after = parsed(request.remind_at);
  if (after === null) return null;
  return after > now ? `reminder in ${span(after - now)}` : 'reminder due';
}

function parsed(iso: string | null | undefined): number | null {
  if (typeof iso !== 'string') return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}
