// The sessions list's filters live in the URL (`/sessions?status=failed`): a reload keeps
// them, back and forward step through them, and a filtered list can be linked to.
import type { SessionStatus } from '../protocol';

/** What the list can be narrowed to; "waiting" is the hub's own status filter too. */
export const STATUS_FILTERS: readonly { value: SessionStatus; label: string }[] = [
  { value: 'waiting', label: 'Waiting for you' },
  { value: 'running', label: 'Running' },
  { value: 'pending', label: 'Queued' },
  { value: 'completed', label: 'Completed' },
  { value: 'failed', label: 'Failed' },
  { value: 'cancelled', label: 'Cancelled' },
];

export interface SessionFilters {
  /** '' for every status. */
  status: SessionStatus | '';
}

const KNOWN = new Set<string>(STATUS_FILTERS.map((f) => f.value));

/** The filters a query string asks for; a value the list does not know is ignored. */
export function filtersFromSearch(search: string): SessionFilters {
  const status = new URLSearchParams(search).get('status') ?? '';
  return { status: KNOWN.has(status) ? (status as SessionStatus) : '' };
}

/** The list's URL for `filters` (no query string for the unfiltered list). */
export function sessionsUrl(filters: SessionFilters): string {
  const params = new URLSearchParams();
  if (filters.status) params.set('status', filters.status);
  const qs = params.toString();
  return qs ? `/sessions?${qs}` : '/sessions';
}
