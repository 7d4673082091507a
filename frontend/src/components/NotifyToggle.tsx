import type { NotifyControl } from '../alerts/useInboxAlerts';
import { controlFor } from '../alerts/permission';

/** "Turn on notifications" (and off again). The browser's permission prompt only ever
 * comes from this button's click: browsers refuse prompts that no gesture caused. */
export function NotifyToggle({ notify }: { notify: NotifyControl }) {
  const { label, action } = controlFor(notify.state);
  if (notify.state === 'unsupported') return null;
  if (action === null) return <span className="muted small" data-testid="notify-state" data-state={notify.state}>{label}</span>;
  return (
    <button
      type="button"
      className="button notify-toggle"
      data-testid="notify-state"
      data-state={notify.state}
      aria-pressed={notify.state === 'on'}
      onClick={action === 'on' ? notify.turnOn : notify.turnOff}
    >
      {label}
    </button>
  );
}
