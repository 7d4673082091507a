import type { Request } from '../protocol';
import { Expiry, KIND_LABEL } from './RequestDialog';

/** Every open request of the session, each answerable. */
export function RequestList({ requests, onOpen }: { requests: readonly Request[]; onOpen: (request: Request) => void }) {
  if (requests.length === 0) return null;
  return (
    <section className="card requests" aria-labelledby="requests-title">
      <h2 id="requests-title">
        Waiting for you <span className="count">{requests.length}</span>
      </h2>
      <ul>
        {requests.map((r) => (
          <li key={r.request_id} className="request-item" data-request={r.request_id}>
            <span className={`kind kind-${r.kind}`}>{KIND_LABEL[r.kind]}</span>
            <span className="request-prompt">{r.kind === 'retry' ? `Attempt ${r.attempt ?? 1} failed: ${r.error ?? ''}` : r.prompt}</span>
            <Expiry request={r} />
            <button type="button" className="button small" onClick={() => onOpen(r)}>
              Answer
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
