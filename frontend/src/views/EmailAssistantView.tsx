import { useMemo } from 'react';
import type { Request } from '../protocol';
import { fieldsForRequest } from '../forms/fields';
import { type AnswerFn, problemOf } from '../components/RequestDialog';
import { GeneratedForm, type SubmitProblem } from '../components/GeneratedForm';
import type { TaskViewProps } from './registry';

/** The email assistant's requests are answered in place, next to what they are about. */
export function claimedByAssistant(request: Request): boolean {
  const names = (request.fields ?? []).map((f) => f.name);
  return request.kind === 'input' && names.length > 0 && (names.every((n) => /^q\d+$/.test(n)) || (names.length === 1 && names[0] === 'feedback'));
}

interface AssistantState {
  questions: string[];
  answers: Record<string, string>;
  drafts: string[];
  feedback: string[];
  finalDraft: string | null;
  nextStep: string | null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => String(v)) : [];
}

function read(state: Readonly<Record<string, unknown>>): AssistantState {
  const answers: Record<string, string> = {};
  if (state.answers && typeof state.answers === 'object') {
    for (const [k, v] of Object.entries(state.answers as Record<string, unknown>)) answers[k] = String(v);
  }
  return {
    questions: strings(state.questions),
    answers,
    drafts: strings(state.drafts),
    feedback: strings(state.feedback_history),
    finalDraft: typeof state.final_draft === 'string' ? state.final_draft : null,
    nextStep: typeof state.next_step === 'string' ? state.next_step : null,
  };
}

/** The email assistant drawn from its state: questions, drafts with feedback, the final
 * draft. Its questions and feedback requests are answered in place (`claimedByAssistant`). */
export function EmailAssistantView({ session, meta, answer: onAnswer, mayAnswer }: TaskViewProps) {
  const { state, pending } = session;
  const inputs = meta?.inputs ?? {};
  const s = useMemo(() => read(state), [state]);
  // Only requests this caller may answer get a form; a viewer sees the questions as a list.
  const mine = pending.filter((r) => claimedByAssistant(r) && mayAnswer(r));
  const questionRequest = mine.find((r) => r.fields?.[0]?.name !== 'feedback');
  const feedbackRequest = mine.find((r) => r.fields?.[0]?.name === 'feedback');
  return (
    <section className="assistant" aria-label="Email assistant">
      {typeof inputs.email_to_respond === 'string' && (
        <div className="card">
          <h2>The email</h2>
          <pre className="text-block">{inputs.email_to_respond}</pre>
          {typeof inputs.response_instructions === 'string' && (
            <p className="feedback">
              <span className="muted">You want to:</span> {inputs.response_instructions}
            </p>
          )}
        </div>
      )}
      {(s.questions.length > 0 || questionRequest) && (
        <div className="card">
          <h2>Questions</h2>
          {questionRequest ? (
            <InlineForm request={questionRequest} onAnswer={onAnswer} submitLabel="Answer and draft" />
          ) : (
            <dl className="qa">
              {s.questions.map((q) => (
                <div key={q} className="qa-row">
                  <dt>{q}</dt>
                  <dd>{s.answers[q] ?? <span className="muted">not answered</span>}</dd>
                </div>
              ))}
            </dl>
          )}
        </div>
      )}
      {s.drafts.length > 0 && (
        <div className="card">
          <h2>Drafts</h2>
          <ol className="drafts">
            {s.drafts.map((draft, i) => {
              const latest = i === s.drafts.length - 1;
              return (
                <li key={i} className={latest ? 'draft latest' : 'draft'} data-draft={i + 1}>
                  <h3>
                    Draft {i + 1}
                    {latest && !s.finalDraft && <span className="tag">latest</span>}
                  </h3>
                  <pre className="text-block">{draft}</pre>
                  {s.feedback[i] && (
                    <p className="feedback">
                      <span className="muted">Your feedback:</span> {s.feedback[i]}
                    </p>
                  )}
                  {latest && feedbackRequest && (
                    <InlineForm request={feedbackRequest} onAnswer={onAnswer} submitLabel="Revise" acceptLabel="Accept this draft" />
                  )}
                </li>
              );
            })}
          </ol>
        </div>
      )}
      {s.nextStep === 'draft' && <p className="muted">Drafting…</p>}
      {s.finalDraft !== null && (
        <div className="card final">
          <h2>Final draft</h2>
          <pre className="text-block">{s.finalDraft}</pre>
        </div>
      )}
    </section>
  );
}

function InlineForm({ request, onAnswer, submitLabel, acceptLabel }: { request: Request; onAnswer: AnswerFn; submitLabel: string; acceptLabel?: string }) {
  const fields = useMemo(() => fieldsForRequest(request), [request]);
  const submit = async (values: Record<string, unknown>): Promise<SubmitProblem | undefined> =>
    problemOf(await onAnswer(request, values));
  return (
    <div className="inline-request" data-request={request.request_id}>
      <p className="inline-prompt">{request.prompt}</p>
      <GeneratedForm
        key={request.request_id}
        fields={fields}
        initial={request.initial}
        submitLabel={submitLabel}
        onSubmit={submit}
        compact
        actions={acceptLabel && (
          <button type="button" className="button" onClick={() => void onAnswer(request, { feedback: '' })}>
            {acceptLabel}
          </button>
        )}
      />
    </div>
  );
}
