// The app's one inbox poll (GET /api/requests?status=open): the nav count, the tab title
// and favicon, notifications and the Inbox page all read it, so a tab asks once per
// POLL_MS while it is visible and once per HIDDEN_POLL_MS while hidden (still often
// enough for a notification to come).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { InboxPage } from '../protocol';
import { ApiError, api } from './api';
import { usePoll } from './hooks';
import { HIDDEN_POLL_MS, MOST, POLL_MS } from './inbox';

export interface InboxFeed {
  /** The newest open requests (up to MOST); null before the first answer. */
  page: InboxPage | null;
  error: string | null;
  /** Read again now (after an answer). */
  refresh: () => void;
}

export function useInbox(enabled: boolean): InboxFeed {
  const [page, setPage] = useState<InboxPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Reads may overlap (a poll and a refresh after an answer): only the latest one counts.
  const sent = useRef(0);
  const refresh = useCallback(() => {
    const n = ++sent.current;
    api.inbox({ limit: MOST }).then(
      (next) => {
        if (n !== sent.current) return;
        setPage(next);
        setError(null);
      },
      (e: unknown) => {
        if (n === sent.current) setError(e instanceof ApiError ? e.message : 'Could not load the inbox.');
      },
    );
  }, []);
  useEffect(() => {
    if (enabled) return;
    sent.current++;
    setPage(null);
    setError(null);
  }, [enabled]);
  usePoll(refresh, POLL_MS, HIDDEN_POLL_MS, enabled);
  return { page, error, refresh };
}
