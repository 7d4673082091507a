// Names the app uses for the hub's access levels (docs/PROTOCOL.md, "Sharing"). Shares,
// links, `Session.access` and `Request.assignees` are generated (generated.ts, from
// backend/tether/messages.py); these are the short names for parts of them.
import type { Session, ShareInfo } from './generated';

/** The caller's level on a session, weakest first (`none` never reaches the app: the hub
 * answers 404 then). */
export type AccessLevel = NonNullable<Session['access']>;

export type ShareRole = ShareInfo['role'];
