// The hub's refusals, in words that say who may. A 403 `forbidden` (HTTP) or an error frame
// with code `forbidden` (WebSocket) means the caller may look but not do this. The rules are
// fixed (docs/PROTOCOL.md "Who may do what"), so the app states them itself; the hub's own
// message says much the same and is left out rather than said twice.

export type Action = 'answer' | 'cancel' | 'fork' | 'share';

const RULE: Record<Action, string> = {
  answer: 'You can watch this session but may not answer this request: that is for the people it is put to, or (when it names nobody) the session’s owner and those it is shared with to answer.',
  cancel: 'Only the session’s owner or an admin may cancel it.',
  fork: 'Only the session’s owner or an admin may fork it.',
  share: 'Only the session’s owner or an admin may share it or make links to it.',
};

/** What a person is told when `action` was refused; null when it was no refusal. */
export function refusalText(code: string | undefined, action: Action): string | null {
  return code === 'forbidden' ? RULE[action] : null;
}

/** The message for a failed `action`: a refusal explained, else the hub's words, else
 * `fallback`. */
export function problemText(code: string | undefined, message: string | undefined, action: Action, fallback: string): string {
  return refusalText(code, action) ?? (message !== undefined && message !== '' ? message : fallback);
}
