import type { Request } from '../protocol';
import { waitingFor } from '../session/assignees';
import { Expiry, KIND_LABEL } from './RequestDialog';

/** Every open request of the session; those the caller may answer have "Answer". */
export function RequestList({ requests, onOpen, mayAnswer, readOnly }: {
  requests: readonly Request[];
  onOpen: (request: Request) => void;
  mayAnswer: (request: Request) => boolean;
  /** The whole page is read-only (its badge says so): no word on each request. */
  readOnly: boolean;
}) {
  if (requests.length === 0) return null;
  const anyForMe = requests.some(mayAnswer);
  // Someone else's questions: named when they are assigned, anonymous otherwise.
  const assigned = requests.some((r) => (r.assignees ?? []).length > 0);
  const heading = anyForMe ? 'Waiting for you' : assigned ? 'Waiting for others' : 'Waiting for an answer';
  return (
    <section className="card requests" aria-labelledby="requests-title">
      <h2 id="requests-title">
        {heading} <span className="count">{requests.length}</span>
      </h2>
      <ul>
        {requests.map((r) => (
          <li key={r.request_id} className="request-item" data-request={r.request_id}>
            <span className={`kind kind-${r.kind}`}>{KIND_LABEL[r.kind]}</span>
            <span className="request-prompt">{r.kind === 'retry' ? `Attempt ${r.attempt ?? 1} failed: ${r.error ?? ''}` : r.prompt}</span>
            <Expiry request={r} />
            {mayAnswer(r) ? (
              <button type="button" className="button small" onClick={() => onOpen(r)}>
                Answer
              </button>
            ) : (
              (r.assignees ?? []).length > 0
                ? <span className="waiting-for" data-testid="waiting-for">waiting for {waitingFor(r.assignees ?? [])}</span>
                : !readOnly && <span className="muted small">for someone else</span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
