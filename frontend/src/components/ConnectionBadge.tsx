import { useEffect, useState } from 'react';
import { createPortal } from 'react-dom';
import { useNow } from '../lib/hooks';
import type { ConnectionState } from '../socket/SessionSocket';

/** How the live connection to the hub is doing, in words. While a modal dialog is open and
 * the connection is not healthy, the badge moves into that dialog: a modal dialog sits in
 * the browser's top layer, above any z-index, and leaves everything outside it inert, so a
 * badge left in the page would be hidden behind the backdrop (and "Retry now" unclickable). */
export function ConnectionBadge({ state, onRetryNow }: { state: ConnectionState; onRetryNow?: () => void }) {
  const now = useNow(state.phase === 'waiting', 500);
  const modal = useOpenModalDialog();
  let text: string;
  let detail: string | null = null; // shown, but not announced every half second
  let tone: string;
  switch (state.phase) {
    case 'open':
      text = 'Connected';
      tone = 'ok';
      break;
    case 'replaying':
      text = 'Replaying…';
      tone = 'busy';
      break;
    case 'connecting':
      text = state.silent ? 'Connected' : state.attempt > 0 ? 'Reconnecting…' : 'Connecting…';
      tone = state.silent ? 'ok' : 'busy';
      break;
    case 'waiting': {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      text = 'Reconnecting';
      detail = ` in ${seconds} s`;
      tone = 'warn';
      break;
    }
    case 'closed':
      if (state.reason === 'stopped') return null;
      text = state.reason === 'not_found' ? 'Session not found' : 'Not signed in';
      tone = 'error';
      break;
  }
  const troubled = tone === 'warn' || tone === 'error' || (state.phase === 'connecting' && state.attempt > 0 && !state.silent);
  const floating = troubled && modal !== null;
  const badge = (
    <span className={`conn conn-${tone}${floating ? ' conn-floating' : ''}`} role="status" aria-live="polite" data-phase={state.phase}>
      <span className="conn-dot" aria-hidden="true" />
      {text}
      {detail !== null && <span aria-hidden="true">{detail}</span>}
      {state.phase === 'waiting' && onRetryNow && (
        <button type="button" className="link-button" onClick={onRetryNow}>
          Retry now
        </button>
      )}
    </span>
  );
  return floating ? createPortal(badge, modal) : badge;
}

/** The open modal dialog (the last one, if several), or null; followed as dialogs open and
 * close. */
function useOpenModalDialog(): HTMLDialogElement | null {
  const [dialog, setDialog] = useState<HTMLDialogElement | null>(null);
  useEffect(() => {
    const find = (): void => {
      const open = [...document.querySelectorAll('dialog')].filter((d) => d.matches(':modal'));
      setDialog(open[open.length - 1] ?? null);
    };
    find();
    const observer = new MutationObserver(find);
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['open'] });
    return () => observer.disconnect();
  }, []);
  return dialog;
}
