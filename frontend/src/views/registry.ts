// Task views: a task names the view that renders its sessions (`@hub.task(view="...")`,
// `TaskInfo.view` in the catalogue); the session page draws the registered view of that
// name, or the generic one. How to add a view: docs/VIEWS.md.
import type { ComponentType } from 'react';
import type { Request, Session } from '../protocol';
import type { AnswerOutcome, SessionController } from '../session/controller';
import type { SessionState } from '../session/store';

/** What every view is given. */
export interface TaskViewProps {
  /** The session as the store holds it: status, task state, open requests, log, outcome. */
  session: SessionState;
  /** The session's record from the hub (task, inputs, owner, …); null until it has loaded. */
  meta: Session | null;
  /** Answer one of `session.pending` (over the socket, or HTTP while it is down). */
  answer: (request: Request, value: unknown) => Promise<AnswerOutcome>;
  /** Whether the caller may answer this request: show no form for one they may not (a
   * viewer, a share link's holder, a request put to someone else). */
  mayAnswer: (request: Request) => boolean;
  /** The watched session (cancel, reconnect); null before it has started. */
  controller: SessionController | null;
}

/** One registry entry. */
export interface TaskView {
  /** Drawn between the outcome and the log, in place of the generic "State" card. */
  component: ComponentType<TaskViewProps>;
  /** Requests the view answers in place: the page opens no dialog for them, and "Answer"
   * in the list of open requests scrolls to `.inline-request[data-request="<id>"]`. */
  claims?: (request: Request) => boolean;
  /** The view shows the task's inputs itself: the page leaves out its "Inputs" card. */
  showsInputs?: boolean;
}

export type ViewRegistry = ReadonlyMap<string, TaskView>;

/** The same rule as the hub's (backend/tether/hub.py VIEW_NAME). */
const VIEW_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** A registry from `{name: view}`; a name the hub would refuse is a programming error. */
export function createRegistry(entries: Readonly<Record<string, TaskView>>): ViewRegistry {
  for (const name of Object.keys(entries)) {
    if (!VIEW_NAME.test(name)) throw new Error(`View name ${JSON.stringify(name)} is not valid: use lowercase letters, digits, '_' or '-'.`);
  }
  return new Map(Object.entries(entries));
}

export type ResolvedView =
  | { kind: 'registered'; name: string; view: TaskView }
  /** `unknown`: the name the task asked for that this app does not have (null: none). */
  | { kind: 'generic'; unknown: string | null };

/** The view a task's sessions get. An unknown name is no error: the generic view draws
 * everything, and the page says (quietly) which view was asked for. */
export function resolveView(registry: ViewRegistry, name: string | null | undefined): ResolvedView {
  if (!name) return { kind: 'generic', unknown: null };
  const view = registry.get(name);
  return view ? { kind: 'registered', name, view } : { kind: 'generic', unknown: name };
}

/** True when the resolved view answers this request in place (no dialog for it). */
export function claimedInPlace(resolved: ResolvedView, request: Request): boolean {
  return resolved.kind === 'registered' && (resolved.view.claims?.(request) ?? false);
}
