import type { SessionStatus } from '../protocol';
import { statusText } from '../session/store';

/** `forYou`: whether a waiting session waits for the one looking (not for a viewer's eyes). */
export function StatusBadge({ status, forYou = true }: { status: SessionStatus | null; forYou?: boolean }) {
  if (status === null) return <span className="badge badge-muted">Loading…</span>;
  const label = status === 'waiting' ? (forYou ? 'Waiting for you' : 'Waiting for an answer') : statusText(status);
  return (
    <span className={`badge badge-${status}`} data-status={status} aria-label={`Status: ${label}`}>
      {status === 'running' && <span className="pulse" aria-hidden="true" />}
      {label}
    </span>
  );
}
