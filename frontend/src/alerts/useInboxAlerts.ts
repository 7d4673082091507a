// The React side of InboxAlerts: one per app, fed every inbox poll.
import { useCallback, useEffect, useMemo, useReducer } from 'react';
import type { InboxItem } from '../protocol';
import { useLatest } from '../lib/hooks';
import { navigate } from '../lib/router';
import { type AlertEnv, InboxAlerts } from './InboxAlerts';
import type { NotifyState } from './permission';

export interface NotifyControl {
  state: NotifyState;
  turnOn: () => void;
  turnOff: () => void;
}

function browserEnv(): AlertEnv {
  let storage: Storage | null = null;
  try {
    storage = window.localStorage;
  } catch {
    // Storage denied: InboxAlerts keeps its sets in memory.
  }
  return {
    storage,
    notifications: 'Notification' in window ? window.Notification : null,
    open: (path) => navigate(path),
    focus: () => window.focus(),
  };
}

/** Notify `userId` of the new items of each poll (`items` changes once per poll), except
 * those of the session `onScreen` while the tab is visible. */
export function useInboxAlerts(userId: string | null, items: readonly InboxItem[] | null, onScreen: string | null): NotifyControl {
  const alerts = useMemo(() => new InboxAlerts(browserEnv()), []);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const screen = useLatest(onScreen);
  useEffect(() => {
    if (userId === null || items === null) return;
    alerts.observe(userId, items, document.visibilityState === 'visible' ? screen.current : null);
  }, [alerts, userId, items, screen]);
  const turnOn = useCallback(() => {
    if (userId !== null) void alerts.turnOn(userId).then(() => redraw());
  }, [alerts, userId]);
  const turnOff = useCallback(() => {
    if (userId !== null) alerts.turnOff(userId);
    redraw();
  }, [alerts, userId]);
  return { state: userId === null ? 'unsupported' : alerts.state(userId), turnOn, turnOff };
}
