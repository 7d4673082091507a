// What a notification says for new inbox items, and where clicking it leads.
import type { InboxItem } from '../protocol';
import { itemKey } from '../lib/inbox';

/** More new items than this at once make one summary notification, not a burst. */
export const MOST_NOTICES = 3;
const BODY_CHARS = 180;

export interface Notice {
  title: string;
  body: string;
  /** The browser replaces a shown notification with the same tag: two tabs that both
   * notice the same request show it once. */
  tag: string;
  /** The app's page a click opens. */
  path: string;
}

/** The new items that deserve a notification: not the ones whose session is on screen. */
export function worthNotifying(fresh: readonly InboxItem[], onScreen: string | null): InboxItem[] {
  return onScreen === null ? [...fresh] : fresh.filter((item) => item.session_id !== onScreen);
}

/** One notice per new item (the task's title, the prompt), opening its session; past
 * MOST_NOTICES, one that counts them and opens the Inbox. */
export function noticesFor(fresh: readonly InboxItem[]): Notice[] {
  if (fresh.length > MOST_NOTICES) {
    return [{
      title: `${fresh.length} new questions for you`,
      body: clip([...new Set(fresh.map((item) => item.title))].join(', ')),
      tag: 'tether:inbox',
      path: '/inbox',
    }];
  }
  return fresh.map((item) => ({
    title: item.title,
    body: clip(item.request.prompt),
    tag: `tether:${itemKey(item)}`,
    path: `/sessions/${encodeURIComponent(item.session_id)}`,
  }));
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= BODY_CHARS ? flat : `${flat.slice(0, BODY_CHARS - 1)}…`;
}
