// What the session page offers, from the caller's access level on the session (the hub's
// `access`, docs/PROTOCOL.md "Sharing"). The hub enforces every rule; the page only leaves
// out what would be refused, so a viewer is not shown forms that cannot work.
import type { AccessLevel, Me, Request } from '../protocol';
import { addressedTo } from './assignees';

export interface Permissions {
  /** Nothing can be changed here: no answers, no cancel, no fork (a badge says so). */
  readOnly: boolean;
  /** The page was opened with a share link (`?link=TOKEN`). */
  viaLink: boolean;
  /** Open requests without assignees may be answered. */
  answer: boolean;
  cancel: boolean;
  fork: boolean;
  /** Shares and links may be managed. */
  share: boolean;
}

/** The page's permissions. `access` is null until the session has loaded, and absent from
 * an older hub, which showed a session only to its owner: both mean owner, as before. A
 * share link makes its holder a viewer, whatever else the browser is logged in as. */
export function permissionsFor(access: AccessLevel | null | undefined, viaLink: boolean): Permissions {
  const level: AccessLevel = viaLink ? 'viewer' : (access ?? 'owner');
  const manages = level === 'owner' || level === 'admin';
  return {
    readOnly: level === 'viewer',
    viaLink,
    answer: level !== 'viewer',
    cancel: manages,
    fork: manages,
    share: manages,
  };
}

/** Whether this caller may answer `request`: one with assignees only by an assignee
 * (`user:NAME` by id, `group:NAME` by membership) or an admin — even a viewer, for a
 * request put to them; one without by the owner, an answerer or an admin. */
export function mayAnswer(permissions: Permissions, request: Request, me: Me | null): boolean {
  if (permissions.viaLink) return false;
  const assignees = request.assignees ?? [];
  if (assignees.length === 0) return permissions.answer;
  if (me === null) return false;
  if (me.roles.includes('admin')) return true;
  return addressedTo(me, assignees);
}
