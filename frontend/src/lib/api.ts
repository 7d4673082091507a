// The hub's HTTP API (PROTOCOL.md §3). Every failure becomes an ApiError.
import type {
  AnswerLinkInfo, AuthInfo, ErrorBody, InboxPage, LinkCreated, LinkInfo, LinkList, Me, Session, SessionPage, ShareInfo, ShareList,
  ShareRole, TaskInfo, TaskList,
} from '../protocol';
import { withLink } from './linkToken';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function isErrorBody(data: unknown): data is ErrorBody {
  if (data === null || typeof data !== 'object' || !('error' in data)) return false;
  const error = (data as { error: unknown }).error;
  return error !== null && typeof error === 'object' && typeof (error as { code?: unknown }).code === 'string';
}

async function call<T>(
  method: string, path: string, body?: unknown, headers: Record<string, string> = {},
  credentials: RequestCredentials = 'same-origin',
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The hub cannot be reached. Check your connection.');
  }
  let data: unknown = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: judged by the status below
  }
  if (response.status === 204) return undefined as T;
  if (!response.ok) {
    if (isErrorBody(data)) {
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(data.error.fields ?? {})) if (v !== undefined) fields[k] = v;
      throw new ApiError(response.status, data.error.code, data.error.message, fields);
    }
    throw new ApiError(response.status, 'http_error', `The hub answered ${response.status}.`);
  }
  return data as T;
}

/** Which sessions the list holds: the caller's own, those shared with them, or (admins) all. */
export type SessionScope = 'own' | 'shared' | 'all';

const sessionPath = (id: string): string => `/api/sessions/${encodeURIComponent(id)}`;
const answerLinkPath = (token: string): string => `/api/answer/${encodeURIComponent(token)}`;

export const api = {
  /** Who this browser is; 401 `not_authenticated` when the hub wants a login. */
  me: (): Promise<Me> => call<Me>('GET', '/api/me'),
  /** How one logs in here (password, an OpenID provider); answers without an identity. */
  authInfo: (): Promise<AuthInfo> => call<AuthInfo>('GET', '/api/auth'),
  login: (username: string, password: string): Promise<Me> => call<Me>('POST', '/api/login', { username, password }),
  logout: (): Promise<void> => call<void>('POST', '/api/logout'),
  tasks: async (): Promise<TaskInfo[]> => (await call<TaskList>('GET', '/api/tasks')).tasks,
  start: (task: string, inputs: Record<string, unknown>, idempotencyKey: string): Promise<Session> =>
    call<Session>('POST', '/api/sessions', { task, inputs }, { 'Idempotency-Key': idempotencyKey }),
  sessions: (query: { status?: string; limit?: number; before?: string | null; scope?: SessionScope } = {}): Promise<SessionPage> => {
    const params = new URLSearchParams();
    if (query.scope === 'shared') params.set('shared', '1');
    if (query.scope === 'all') params.set('all', '1');
    if (query.status) params.set('status', query.status);
    if (query.limit) params.set('limit', String(query.limit));
    if (query.before) params.set('before', query.before);
    const qs = params.toString();
    return call<SessionPage>('GET', `/api/sessions${qs ? `?${qs}` : ''}`);
  },
  /** One session; `link`, a share link's token, is how a holder without an account reads it. */
  session: (id: string, link: string | null = null): Promise<Session> =>
    call<Session>('GET', withLink(sessionPath(id), link)),
  cancel: (id: string): Promise<Session> => call<Session>('POST', `${sessionPath(id)}/cancel`),
  /** A new session that replays `id`'s journal as it stood at event `atSeq`. */
  fork: (id: string, atSeq: number): Promise<Session> =>
    call<Session>('POST', `${sessionPath(id)}/fork`, { at_seq: atSeq }),
  /** Open requests the caller may answer, across sessions, newest first. */
  inbox: (query: { limit?: number; before?: string | null } = {}): Promise<InboxPage> => {
    const params = new URLSearchParams({ status: 'open' });
    if (query.limit) params.set('limit', String(query.limit));
    if (query.before) params.set('before', query.before);
    return call<InboxPage>('GET', `/api/requests?${params.toString()}`);
  },
  answer: (id: string, requestId: string, value: unknown): Promise<unknown> =>
    call('POST', `${sessionPath(id)}/requests/${encodeURIComponent(requestId)}`, { value }),

  // Answer links from mails (PROTOCOL.md "Answer links"): the link's token is the
  // credential. The login cookie goes along to the answer only on a hub whose policy asks
  // for the link's person signed in (the GET, which reads it, says so and who is).
  answerLink: (token: string): Promise<AnswerLinkInfo> =>
    call<AnswerLinkInfo>('GET', answerLinkPath(token), undefined, {}, 'same-origin'),
  answerByLink: (token: string, value: unknown, signedIn = false): Promise<unknown> =>
    call('POST', answerLinkPath(token), { value }, {}, signedIn ? 'same-origin' : 'omit'),

  // Sharing (owner or admin; PROTOCOL.md "Sharing").
  shares: async (id: string): Promise<ShareInfo[]> => (await call<ShareList>('GET', `${sessionPath(id)}/shares`)).shares,
  /** Share with `target` (`user:NAME`, `group:NAME`), or change the role of its share. */
  share: (id: string, target: string, role: ShareRole): Promise<ShareInfo> =>
    call<ShareInfo>('POST', `${sessionPath(id)}/shares`, { with: target, role }),
  unshare: (id: string, target: string): Promise<void> =>
    call<void>('DELETE', `${sessionPath(id)}/shares/${encodeURIComponent(target)}`),
  links: async (id: string): Promise<LinkInfo[]> => (await call<LinkList>('GET', `${sessionPath(id)}/links`)).links,
  /** A new read-only link, valid for `expiresIn` seconds; its token is shown only now. */
  createLink: (id: string, expiresIn: number): Promise<LinkCreated> =>
    call<LinkCreated>('POST', `${sessionPath(id)}/links`, { expires_in: expiresIn }),
  revokeLink: (id: string, linkId: string): Promise<void> =>
    call<void>('DELETE', `${sessionPath(id)}/links/${encodeURIComponent(linkId)}`),
};
