// The hub's HTTP API (PROTOCOL.md §3). Every failure becomes an ApiError.
import type { ErrorBody, Me, Session, SessionPage, TaskInfo, TaskList } from '../protocol';

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

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
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

export const api = {
  /** Who this browser is; 401 `not_authenticated` when the hub wants a login. */
  me: (): Promise<Me> => call<Me>('GET', '/api/me'),
  login: (username: string, password: string): Promise<Me> => call<Me>('POST', '/api/login', { username, password }),
  logout: (): Promise<void> => call<void>('POST', '/api/logout'),
  tasks: async (): Promise<TaskInfo[]> => (await call<TaskList>('GET', '/api/tasks')).tasks,
  start: (task: string, inputs: Record<string, unknown>, idempotencyKey: string): Promise<Session> =>
    call<Session>('POST', '/api/sessions', { task, inputs }, { 'Idempotency-Key': idempotencyKey }),
  sessions: (query: { status?: string; limit?: number; before?: string | null } = {}): Promise<SessionPage> => {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.limit) params.set('limit', String(query.limit));
    if (query.before) params.set('before', query.before);
    const qs = params.toString();
    return call<SessionPage>('GET', `/api/sessions${qs ? `?${qs}` : ''}`);
  },
  session: (id: string): Promise<Session> => call<Session>('GET', `/api/sessions/${encodeURIComponent(id)}`),
  cancel: (id: string): Promise<Session> => call<Session>('POST', `/api/sessions/${encodeURIComponent(id)}/cancel`),
  /** A new session that replays `id`'s journal as it stood at event `atSeq`. */
  fork: (id: string, atSeq: number): Promise<Session> =>
    call<Session>('POST', `/api/sessions/${encodeURIComponent(id)}/fork`, { at_seq: atSeq }),
  answer: (id: string, requestId: string, value: unknown): Promise<unknown> =>
    call('POST', `/api/sessions/${encodeURIComponent(id)}/requests/${encodeURIComponent(requestId)}`, { value }),
};
