import { type ReactNode, useEffect, useMemo, useRef, useState } from 'react';
import type { Request } from '../protocol';
import { fieldsForRequest } from '../forms/fields';
import { useNow } from '../lib/hooks';
import { countdown } from '../lib/time';
import type { AnswerOutcome } from '../session/controller';
import { problemText } from '../session/refusals';
import { GeneratedForm, type SubmitProblem } from './GeneratedForm';
import { Markdown } from './Markdown';

export type AnswerFn = (request: Request, value: unknown) => Promise<AnswerOutcome>;

/** What a form shows after an answer: nothing when it was taken (by this tab or, just
 * before, by another); for a refusal (`forbidden`) who may answer; else the hub's message
 * and field errors. */
export function problemOf(outcome: AnswerOutcome): SubmitProblem | undefined {
  if (outcome.ok || outcome.code === 'already_answered') return undefined;
  const message = problemText(outcome.code, outcome.message, 'answer', 'The answer was not accepted.');
  return { message, ...(outcome.fields ? { fields: outcome.fields } : {}) };
}

/** A modal dialog for one open request. Escape (or "Later") closes it unanswered; the
 * request stays in the list. It closes by itself when any tab answers. */
export function RequestDialog({ request, onAnswer, onDismiss }: { request: Request; onAnswer: AnswerFn; onDismiss: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    return () => {
      dialog.close();
      opener?.focus();
    };
  }, []);
  const titleId = `request-${request.request_id}-title`;
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      data-request={request.request_id}
      data-kind={request.kind}
      onCancel={(e) => {
        e.preventDefault();
        onDismiss();
      }}
    >
      <RequestBody request={request} onAnswer={onAnswer} onDismiss={onDismiss} titleId={titleId} />
    </dialog>
  );
}

export function RequestBody({ request, onAnswer, onDismiss, titleId }: { request: Request; onAnswer: AnswerFn; onDismiss?: () => void; titleId: string }) {
  return (
    <div className="request-body">
      <header className="request-head">
        <span className={`kind kind-${request.kind}`}>{KIND_LABEL[request.kind]}</span>
        <Expiry request={request} />
      </header>
      {request.kind === 'input' && <InputRequest request={request} onAnswer={onAnswer} onDismiss={onDismiss} titleId={titleId} />}
      {request.kind === 'confirm' && (
        <Choice
          request={request}
          onAnswer={onAnswer}
          onDismiss={onDismiss}
          titleId={titleId}
          yes="Yes"
          no="No"
          body={request.details ? <pre className="details">{request.details}</pre> : null}
        />
      )}
      {request.kind === 'retry' && (
        <Choice
          request={request}
          onAnswer={onAnswer}
          onDismiss={onDismiss}
          titleId={titleId}
          yes="Retry"
          no="Give up"
          body={
            <div className="retry-error" role="alert">
              <p className="retry-attempt">Attempt {request.attempt ?? 1} failed</p>
              <p>{request.error}</p>
            </div>
          }
        />
      )}
    </div>
  );
}

export const KIND_LABEL: Record<Request['kind'], string> = {
  input: 'Input needed',
  confirm: 'Confirmation',
  retry: 'Retry?',
};

export function Expiry({ request }: { request: Request }) {
  const expires = request.expires_at ?? null;
  const now = useNow(expires !== null);
  if (!expires) return null;
  const left = countdown(expires, now);
  return (
    <span className="expiry" role="timer" aria-label={left ? `Expires in ${left}` : 'Expiring'}>
      {left ? `Expires in ${left}` : 'Expiring…'}
    </span>
  );
}

function InputRequest({ request, onAnswer, onDismiss, titleId }: { request: Request; onAnswer: AnswerFn; onDismiss: (() => void) | undefined; titleId: string }) {
  const fields = useMemo(() => fieldsForRequest(request), [request]);
  const submit = async (values: Record<string, unknown>): Promise<SubmitProblem | undefined> =>
    problemOf(await onAnswer(request, values));
  return (
    <>
      <h2 id={titleId}>{request.prompt}</h2>
      {request.details && <Markdown source={request.details} className="details" />}
      <GeneratedForm
        fields={fields}
        initial={request.initial}
        submitLabel="Submit"
        onSubmit={submit}
        autoFocus
        actions={onDismiss && <button type="button" className="button ghost" onClick={onDismiss}>Later</button>}
      />
    </>
  );
}

function Choice({ request, onAnswer, onDismiss, titleId, yes, no, body }: {
  request: Request; onAnswer: AnswerFn; onDismiss: (() => void) | undefined; titleId: string; yes: string; no: string; body: ReactNode;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const choose = async (value: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    const outcome = await onAnswer(request, value);
    setBusy(false);
    setError(problemOf(outcome)?.message ?? null);
  };
  return (
    <>
      <h2 id={titleId}>{request.prompt}</h2>
      {body}
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="form-actions">
        <button type="button" className="button primary" disabled={busy} onClick={() => void choose(true)} autoFocus>
          {yes}
        </button>
        <button type="button" className={request.kind === 'retry' ? 'button danger-ghost' : 'button'} disabled={busy} onClick={() => void choose(false)}>
          {no}
        </button>
        {onDismiss && <button type="button" className="button ghost push-right" onClick={onDismiss}>Later</button>}
      </div>
    </>
  );
}
