import type { SessionStatus } from '../protocol';
import { statusText } from '../session/store';

export function StatusBadge({ status }: { status: SessionStatus | null }) {
  if (status === null) return <span className="badge badge-muted">Loading…</span>;
  const label = status === 'waiting' ? 'Waiting for you' : statusText(status);
  return (
    <span className={`badge badge-${status}`} data-status={status} aria-label={`Status: ${label}`}>
      {status === 'running' && <span className="pulse" aria-hidden="true" />}
      {label}
    </span>
  );
}
