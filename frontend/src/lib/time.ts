/** "4:05" or "1:02:03" until `iso`, from `now`; null once it has passed. */
export function countdown(iso: string, now: number): string | null {
  const left = Math.ceil((Date.parse(iso) - now) / 1000);
  if (!Number.isFinite(left) || left <= 0) return null;
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function age(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return `${days} ${days === 1 ? 'day' : 'days'} ago`;
}

/** "under a second", "12 s", "3 min", "1 h 5 min", "2 days 3 h". */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 1) return 'under a second';
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  const unit = days === 1 ? 'day' : 'days';
  return hours % 24 ? `${days} ${unit} ${hours % 24} h` : `${days} ${unit}`;
}

/** How long a session ran: "took 12 s" once it ended (its last update is its end), else
 * "running for 3 min" (or "queued for" before it started). */
export function sessionDuration(
  session: { status: string; created_at: string; updated_at: string },
  now: number,
): string {
  const start = Date.parse(session.created_at);
  if (['completed', 'failed', 'cancelled'].includes(session.status)) {
    return `took ${formatDuration(Date.parse(session.updated_at) - start)}`;
  }
  const verb = session.status === 'pending' ? 'queued for' : 'running for';
  return `${verb} ${formatDuration(now - start)}`;
}
