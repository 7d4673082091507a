import { useCallback, useEffect, useState } from 'react';
import type { AnswerLinkInfo, Request } from '../protocol';
import { ApiError, api } from '../lib/api';
import { type Choice, choiceLabels, closesTheLink, linkProblem, loginHref, needsSignIn } from '../lib/answerLink';
import { answerOutcome, askedBy } from '../lib/inbox';
import type { AnswerOutcome } from '../session/controller';
import { Markdown } from './Markdown';
import { Expiry, KIND_LABEL, RequestBody, problemOf } from './RequestDialog';

type State =
  | { phase: 'loading' }
  | { phase: 'open'; info: AnswerLinkInfo }
  | { phase: 'sign_in'; person: string; signedInAs: string | null }
  | { phase: 'closed'; code: string | undefined; message: string | undefined }
  | { phase: 'answered'; info: AnswerLinkInfo };

/** The page an answer link from a mail opens: no login, the link's token is the
 * credential (unless the hub's policy asks for the link's person signed in: then it says
 * so, with a link to the login page that comes back here). Opening it answers nothing;
 * the person's press sends the answer, once. */
export function AnswerLinkPage({ token, choice }: { token: string; choice: Choice | null }) {
  const [state, setState] = useState<State>({ phase: 'loading' });
  useEffect(() => {
    api.answerLink(token).then(
      (info) => setState(needsSignIn(info) ? { phase: 'sign_in', person: info.person, signedInAs: info.signed_in_as ?? null } : { phase: 'open', info }),
      (e: unknown) => setState({ phase: 'closed', code: e instanceof ApiError ? e.code : undefined, message: e instanceof ApiError ? e.message : undefined }),
    );
  }, [token]);

  const loginRequired = state.phase === 'open' && state.info.login_required === true;
  const onAnswer = useCallback(async (_request: Request, value: unknown): Promise<AnswerOutcome> => {
    const outcome = await answerOutcome(api.answerByLink(token, value, loginRequired));
    if (outcome.ok) setState((s) => (s.phase === 'open' ? { phase: 'answered', info: s.info } : s));
    else if (outcome.code === 'not_signed_in') setState((s) => (s.phase === 'open' ? { phase: 'sign_in', person: s.info.person, signedInAs: null } : s));
    else if (closesTheLink(outcome.code)) setState({ phase: 'closed', code: outcome.code, message: outcome.message });
    return outcome;
  }, [token, loginRequired]);

  if (state.phase === 'loading') return <p className="muted">Loading…</p>;
  if (state.phase === 'closed') {
    const problem = linkProblem(state.code, state.message);
    return (
      <section className="narrow card empty-state" data-testid="answer-link-closed" data-code={state.code ?? ''}>
        <h1>{problem.title}</h1>
        <p>{problem.text}</p>
      </section>
    );
  }
  if (state.phase === 'sign_in') {
    const here = window.location.pathname + window.location.search;
    return (
      <section className="narrow card empty-state" data-testid="answer-link-sign-in">
        <h1>Sign in to answer</h1>
        {state.signedInAs === null ? (
          <p>This hub asks you to sign in as <strong>{askedBy(state.person)}</strong> before you answer by link.</p>
        ) : (
          <p>
            This link is for <strong>{askedBy(state.person)}</strong>, and you are signed in as{' '}
            <strong>{askedBy(state.signedInAs)}</strong>. Log out, then sign in as {askedBy(state.person)}.
          </p>
        )}
        {/* A navigation: the login page comes back here once signed in. */}
        <p className="form-actions"><a className="button primary" href={loginHref(here)}>Sign in to answer</a></p>
      </section>
    );
  }
  const { info } = state;
  if (state.phase === 'answered') {
    return (
      <section className="narrow card empty-state" data-testid="answer-link-done">
        <h1>Thank you</h1>
        <p>Your answer to “{info.request.prompt}” was recorded; {askedBy(info.owner)} will see it.</p>
      </section>
    );
  }
  const request = info.request;
  return (
    <section className="narrow" aria-labelledby="answer-link-title">
      <header className="page-head">
        <p className="muted">
          {askedBy(info.owner)} is waiting for your answer in <strong>{info.title}</strong>. You answer as{' '}
          <strong data-testid="answer-link-person">{askedBy(info.person)}</strong>; this link works once, until {new Date(info.link_expires_at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}.
        </p>
      </header>
      <div className="card">
        {request.kind === 'input' ? (
          <RequestBody request={request} onAnswer={onAnswer} titleId="answer-link-title" />
        ) : (
          <YesNo request={request} kind={request.kind} choice={choice} onAnswer={onAnswer} />
        )}
      </div>
    </section>
  );
}

/** A confirmation or retry: the mail's choice (if any) is preselected, and sent only
 * when pressed. */
function YesNo({ request, kind, choice, onAnswer }: {
  request: Request; kind: 'confirm' | 'retry'; choice: Choice | null; onAnswer: (request: Request, value: unknown) => Promise<AnswerOutcome>;
}) {
  const labels = choiceLabels(kind);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const send = async (value: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    const outcome = await onAnswer(request, value);
    setBusy(false);
    if (!outcome.ok) setError(problemOf(outcome)?.message ?? outcome.message ?? 'The answer was not accepted.');
  };
  const preselected: Choice = choice ?? 'approve';
  const button = (which: Choice) => (
    <button
      type="button"
      className={which === preselected ? 'button primary' : 'button'}
      disabled={busy}
      autoFocus={which === preselected}
      aria-describedby={choice === which ? 'answer-link-chosen' : undefined}
      onClick={() => void send(which === 'approve')}
    >
      {labels[which]}
    </button>
  );
  return (
    <div className="request-body">
      <header className="request-head">
        <span className={`kind kind-${request.kind}`}>{KIND_LABEL[request.kind]}</span>
        <Expiry request={request} />
      </header>
      <h2 id="answer-link-title">{request.prompt}</h2>
      {request.error && (
        <div className="retry-error" role="alert">
          <p className="retry-attempt">Attempt {request.attempt ?? 1} failed</p>
          <p>{request.error}</p>
        </div>
      )}
      {request.details && <Markdown source={request.details} className="details" />}
      {choice && (
        <p id="answer-link-chosen" data-testid="answer-link-chosen">
          You chose <strong>{labels[choice]}</strong> in the mail. Press it to send your answer.
        </p>
      )}
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="form-actions">
        {button('approve')}
        {button('decline')}
      </div>
    </div>
  );
}
