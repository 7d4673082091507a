// The sessions list's filters live in the URL (`/sessions?status=failed&scope=shared`): a
// reload keeps them, back and forward step through them, and a filtered list can be linked to.
import type { Me, SessionStatus } from '../protocol';
import type { SessionScope } from './api';

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
  /** Whose sessions: the caller's own (the default), those shared with them, or all (admins). */
  scope: SessionScope;
}

const KNOWN = new Set<string>(STATUS_FILTERS.map((f) => f.value));
const SCOPES: ReadonlySet<string> = new Set<SessionScope>(['own', 'shared', 'all']);

/** The filters a query string asks for; a value the list does not know is ignored. */
export function filtersFromSearch(search: string): SessionFilters {
  const params = new URLSearchParams(search);
  const status = params.get('status') ?? '';
  const scope = params.get('scope') ?? '';
  return {
    status: KNOWN.has(status) ? (status as SessionStatus) : '',
    scope: SCOPES.has(scope) ? (scope as SessionScope) : 'own',
  };
}

/** The list's URL for `filters` (no query string for the unfiltered list of one's own). */
export function sessionsUrl(filters: SessionFilters): string {
  const params = new URLSearchParams();
  if (filters.status) params.set('status', filters.status);
  if (filters.scope !== 'own') params.set('scope', filters.scope);
  const qs = params.toString();
  return qs ? `/sessions?${qs}` : '/sessions';
}

/** The list's tabs for this caller: sharing needs people to share with, so single-person
 * mode has only its own list; admins may also see everyone's. */
export function scopeTabs(me: Me | null): readonly { scope: SessionScope; label: string }[] {
  if (me === null || me.mode === 'anonymous') return [];
  const tabs: { scope: SessionScope; label: string }[] = [
    { scope: 'own', label: 'My sessions' },
    { scope: 'shared', label: 'Shared with me' },
  ];
  if (me.roles.includes('admin')) tabs.push({ scope: 'all', label: 'All' });
  return tabs;
}
