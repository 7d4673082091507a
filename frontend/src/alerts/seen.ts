// Which inbox requests this browser has already shown the user, so that a notification
// goes out once per request and never for one that was there before.
//
// The set is kept per user in localStorage (other tabs read it before they diff, so two
// tabs rarely both notify; the notification's tag merges the rare double). It is bounded:
// the keys still listed come first and are always kept, then the newest of the rest.
import type { InboxItem } from '../protocol';
import { itemKey } from '../lib/inbox';

/** At most this many keys are remembered (the inbox poll reads at most 100). */
export const SEEN_LIMIT = 500;

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

export interface SeenDiff {
  /** Listed now and never seen before, in the inbox's order (newest first). */
  fresh: InboxItem[];
  /** The set to remember from now on. */
  seen: string[];
}

/** Compare the inbox as it is listed now with what was seen. `seen` null means nothing
 * was ever recorded for this user (first use): what is listed counts as seen, so a first
 * visit does not ring for every old question. */
export function diffSeen(items: readonly InboxItem[], seen: readonly string[] | null, limit = SEEN_LIMIT): SeenDiff {
  const listed = items.map(itemKey);
  const listedSet = new Set(listed);
  const known = new Set(seen ?? listed);
  const fresh = items.filter((item) => !known.has(itemKey(item)));
  const older = (seen ?? []).filter((key) => !listedSet.has(key));
  return { fresh, seen: [...listed, ...older].slice(0, Math.max(limit, listed.length)) };
}

export function seenStorageKey(userId: string): string {
  return `tether.inbox.seen.${userId}`;
}

/** The seen keys stored for `userId`; null when none are (or the entry is not ours). */
export function readSeen(storage: KeyValueStore | null, userId: string): string[] | null {
  let text: string | null = null;
  try {
    text = storage?.getItem(seenStorageKey(userId)) ?? null;
  } catch {
    return null; // storage refused (a privacy mode): behave as on first use
  }
  if (text === null) return null;
  try {
    const data: unknown = JSON.parse(text);
    return Array.isArray(data) && data.every((k) => typeof k === 'string') ? data : null;
  } catch {
    return null;
  }
}

export function writeSeen(storage: KeyValueStore | null, userId: string, seen: readonly string[]): void {
  try {
    storage?.setItem(seenStorageKey(userId), JSON.stringify(seen));
  } catch {
    // Full or refused: the in-memory copy (see InboxAlerts) still keeps this tab quiet.
  }
}
