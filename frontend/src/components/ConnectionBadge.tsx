import { useNow } from '../lib/hooks';
import type { ConnectionState } from '../socket/SessionSocket';

/** How the live connection to the hub is doing, in words. */
export function ConnectionBadge({ state, onRetryNow }: { state: ConnectionState; onRetryNow?: () => void }) {
  const now = useNow(state.phase === 'waiting', 500);
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
  return (
    <span className={`conn conn-${tone}`} role="status" aria-live="polite" data-phase={state.phase}>
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
}
