// Thin hooks: each keeps its handler in a ref so callers need not memoise it.
import { useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react';
import { SessionController, type SessionSnapshot } from '../session/controller';
import { emptySession } from '../session/store';

/** The latest value of `value`, readable from effects and timers without re-subscribing. */
export function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}

/** Run `callback` every `ms` (slower while the tab is hidden), and once at the start. */
export function usePoll(callback: () => void, ms: number, hiddenMs = ms * 4, enabled = true): void {
  const latest = useLatest(callback);
  useEffect(() => {
    if (!enabled) return;
    let timer: ReturnType<typeof setTimeout>;
    const tick = (): void => {
      latest.current();
      timer = setTimeout(tick, document.visibilityState === 'visible' ? ms : hiddenMs);
    };
    tick();
    const onVisible = (): void => {
      if (document.visibilityState === 'visible') {
        clearTimeout(timer);
        tick();
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [latest, ms, hiddenMs, enabled]);
}

/** The current time, updated every `ms` while `active`. */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
  return now;
}

const idle: SessionSnapshot = {
  meta: null,
  loadError: null,
  missing: null,
  store: emptySession,
  connection: { phase: 'connecting', attempt: 0, silent: false },
  caughtUp: false,
  toasts: [],
};
const noop = (): (() => void) => () => {};

/** Watch one session: its controller lives as long as the component shows `sessionId`
 * (through the share link `link`, when given). */
export function useSession(sessionId: string, link: string | null = null): { snapshot: SessionSnapshot; controller: SessionController | null } {
  const [controller, setController] = useState<SessionController | null>(null);
  useEffect(() => {
    const c = new SessionController(sessionId, { link });
    setController(c);
    void c.start();
    const online = (): void => c.reconnectNow();
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('online', online);
      c.dispose();
    };
  }, [sessionId, link]);
  const live = controller?.sessionId === sessionId && controller.link === link ? controller : null;
  const snapshot = useSyncExternalStore(live ? live.subscribe : noop, live ? live.getSnapshot : () => idle);
  return { snapshot, controller: live };
}
