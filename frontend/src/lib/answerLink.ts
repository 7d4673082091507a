// The page an answer link from a mail opens (`/answer/{token}?choice=approve`): which
// choice the mail's button named, and what to tell the person when the link cannot answer.

export type Choice = 'approve' | 'decline';

/** The choice a yes/no mail's link preselects; null when none (or an unknown one). The
 * page still needs a press to send it: opening a link never answers. */
export function choiceFromSearch(search: string): Choice | null {
  const choice = new URLSearchParams(search).get('choice');
  return choice === 'approve' || choice === 'decline' ? choice : null;
}

/** The labels of a yes/no request's two answers, as its mail names them. */
export function choiceLabels(kind: 'confirm' | 'retry'): Record<Choice, string> {
  return kind === 'retry' ? { approve: 'Retry', decline: 'Give up' } : { approve: 'Approve', decline: 'Decline' };
}

export interface LinkProblem {
  title: string;
  text: string;
}

const PROBLEMS: Record<string, LinkProblem> = {
  link_used: { title: 'This link was already used', text: 'Each answer link answers once, and this one has. Nothing more is needed from you.' },
  link_expired: { title: 'This link has expired', text: 'Answer links work for a limited time. Open the session in Tether to answer, if the question is still open.' },
  already_answered: { title: 'Already answered', text: 'Someone answered this question before you did. Nothing more is needed from you.' },
  session_finished: { title: 'This task has finished', text: 'The task this question came from is over; it takes no more answers.' },
  unknown_link: { title: 'This link is not valid', text: 'It may have been cut short when it was copied from the mail. Try opening it from the mail again.' },
  unknown_request: { title: 'This question is closed', text: 'It expired before it was answered.' },
  unknown_session: { title: 'This question is not yours to answer', text: 'The session does not exist, or this link’s person may no longer see it.' },
  forbidden: { title: 'This question is not yours to answer', text: 'It now waits for someone else.' },
};

/** What the page says when the hub refuses the link (`code`: its error code); `message`,
 * the hub's own words, for a refusal the page has no text of its own for. */
export function linkProblem(code: string | undefined, message: string | undefined): LinkProblem {
  return (code !== undefined ? PROBLEMS[code] : undefined) ?? { title: 'This link cannot answer now', text: message ?? 'The hub could not be reached.' };
}

/** The refusals after which the link will not answer, whatever the person does: the page
 * shows the refusal instead of the form. */
export function closesTheLink(code: string | undefined): boolean {
  return code !== undefined && code in PROBLEMS;
}

/** Whether the page must ask the person to sign in first: the hub's policy asks for it
 * (`TETHER_ANSWER_LINK_LOGIN=required`) and the link's person is not the one signed in. */
export function needsSignIn(info: { login_required?: boolean; signed_in_as?: string | null; person: string }): boolean {
  return info.login_required === true && info.signed_in_as !== info.person;
}

/** A path of this app to come back to after signing in, or null: only `/…`, never
 * `//host` or a backslash (which browsers read as `/`), so a crafted login link cannot
 * send the person to another site. */
export function safeNext(value: string | null): string | null {
  if (value === null || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return null;
  for (const ch of value) if (ch < ' ' || ch === '\u007f') return null;
  return value;
}

/** The next page a login page was asked to return to (`/login?next=/answer/…`). */
export function nextFromSearch(search: string): string | null {
  return safeNext(new URLSearchParams(search).get('next'));
}

/** The login page, told to come back to `path` (the answer page, its `?choice=` too). */
export function loginHref(path: string): string {
  return `/login?${new URLSearchParams({ next: path }).toString()}`;
}
