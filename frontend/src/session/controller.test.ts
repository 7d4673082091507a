import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Event, Session } from '../protocol';
import type { WebSocketLike } from '../socket/SessionSocket';
import { HISTORY_RESET, LINK_GONE, SessionController } from './controller';

const ts = '2026-11-21T10:00:00.000Z';
const session: Session = {
  id: 's1', task: 'email_demo', status: 'waiting', owner: 'u_me', created_at: ts, updated_at: ts,
  inputs: {}, state: {}, pending: [], result: null, error: null, last_seq: 0, progress: {},
};

class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.readyState = 3;
  }
  push(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const confirmRequest: Event = { type: 'request_confirmation', seq: 1, ts, request_id: 'c1', prompt: 'Send?' };
const inputRequest: Event = {
  type: 'request_user_input', seq: 2, ts, request_id: 'i1', prompt: 'Compose',
  fields: [{ name: 'to_address', description: 'To', type: 'email', required: true }], schema: {},
};

async function connected(link: string | null = null): Promise<{ controller: SessionController; socket: FakeSocket; sockets: FakeSocket[] }> {
  const sockets: FakeSocket[] = [];
  const controller = new SessionController('s1', {
    link,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
  });
  await controller.start();
  const socket = sockets[0];
  if (!socket) throw new Error('no socket');
  socket.readyState = 1;
  socket.onopen?.({});
  socket.push({ type: 'replay_start', after: 0, last_seq: 2 });
  socket.push(confirmRequest);
  socket.push(inputRequest);
  socket.push({ type: 'replay_complete', last_seq: 2 });
  return { controller, socket, sockets };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal('window', { setTimeout, clearTimeout, location: { protocol: 'http:', host: 'hub' } });
  vi.stubGlobal('document', { visibilityState: 'visible' });
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(session), { status: 200 })));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('SessionController', () => {
  it('loads the session over HTTP first, then opens the socket from seq 0', async () => {
    const { controller, socket } = await connected();
    expect(fetch).toHaveBeenCalledWith('/api/sessions/s1', expect.objectContaining({ method: 'GET' }));
    expect(socket.url).toBe('ws://hub/ws/sessions/s1?after=0');
    expect(controller.getSnapshot().caughtUp).toBe(true);
    expect(controller.getSnapshot().store.pending.map((r) => r.request_id)).toEqual(['c1', 'i1']);
  });

  it('answers over the socket and resolves with the hub’s field errors', async () => {
    const { controller, socket } = await connected();
    const request = controller.getSnapshot().store.pending[1];
    if (!request) throw new Error('no request');
    const outcome = controller.answer(request, { to_address: 'nope' });
    const frame = socket.sent[0];
    expect(frame).toMatchObject({ type: 'user_input', request_id: 'i1', values: { to_address: 'nope' } });
    socket.push({ type: 'error', code: 'invalid_value', message: 'Invalid.', ref: frame?.ref, fields: { to_address: 'bad' } });
    await expect(outcome).resolves.toEqual({ ok: false, code: 'invalid_value', message: 'Invalid.', fields: { to_address: 'bad' } });

    const again = controller.answer(request, { to_address: 'a@b.co' });
    socket.push({ type: 'ack', ref: socket.sent[1]?.ref });
    await expect(again).resolves.toEqual({ ok: true });
  });

  it('says who answered a request this tab showed but did not answer', async () => {
    const { controller, socket } = await connected();
    socket.push({ type: 'request_answered', seq: 3, ts, request_id: 'c1', kind: 'confirm', value: true, by: 'u_me' });
    vi.advanceTimersByTime(20);
    const snapshot = controller.getSnapshot();
    expect(snapshot.store.pending.map((r) => r.request_id)).toEqual(['i1']);
    expect(snapshot.toasts.map((t) => t.text)).toEqual(['“Send?” was confirmed by you in another tab.']);
  });

  it('on 4401 gives up on answers in flight, says why and stops reconnecting', async () => {
    const { controller, socket, sockets } = await connected();
    const request = controller.getSnapshot().store.pending[0];
    if (!request) throw new Error('no request');
    const outcome = controller.answer(request, true);
    socket.onclose?.({ code: 4401, reason: 'Not authenticated.' });
    await expect(outcome).resolves.toMatchObject({ ok: false, code: 'disconnected' });
    expect(controller.getSnapshot().connection).toEqual({ phase: 'closed', reason: 'not_authenticated', message: 'Not authenticated.' });
    controller.reconnectNow();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(controller.getSnapshot().connection).toEqual({ phase: 'closed', reason: 'not_authenticated', message: 'Not authenticated.' });
    expect(controller.getSnapshot().store.pending.map((r) => r.request_id)).toEqual(['c1', 'i1']);
  });

  it('gives up on answers in flight when the connection drops', async () => {
    const { controller, socket } = await connected();
    const request = controller.getSnapshot().store.pending[0];
    if (!request) throw new Error('no request');
    const outcome = controller.answer(request, true);
    socket.onclose?.({ code: 1006, reason: '' });
    await expect(outcome).resolves.toMatchObject({ ok: false, code: 'disconnected' });
    expect(controller.getSnapshot().connection.phase).toBe('waiting');
  });

  it('says in the hub’s words why a session is not there: a 404 body or a 4404 reason', async () => {
    const { controller, socket } = await connected();
    expect(controller.getSnapshot().missing).toBeNull();
    const why = 'This hub restarted and keeps sessions in memory only: session s1 is gone.';
    socket.onclose?.({ code: 4404, reason: why });
    expect(controller.getSnapshot().missing).toBe(why);

    const body = { error: { code: 'unknown_session', message: "No session 's2' exists for this user." } };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status: 404 })));
    const gone = new SessionController('s2', { createSocket: (url) => new FakeSocket(url) });
    await gone.start();
    expect(gone.getSnapshot().missing).toBe("No session 's2' exists for this user.");
  });

  it('loads the session record again when it ends live (the traceback is only there)', async () => {
    const { socket } = await connected();
    const calls = vi.mocked(fetch).mock.calls.length;
    socket.push({ type: 'task_failed', seq: 3, ts, error: 'boom', can_retry: false, attempt: 1, error_type: 'ValueError' });
    socket.push({ type: 'status', seq: 4, ts, status: 'failed' });
    vi.advanceTimersByTime(20);
    expect(vi.mocked(fetch).mock.calls.length).toBe(calls + 1);
  });

  it('through a share link, carries the token on the session’s load, its reloads and every socket, and nowhere else', async () => {
    const { controller, socket, sockets } = await connected('tok/+1');
    expect(controller.link).toBe('tok/+1');
    expect(fetch).toHaveBeenCalledWith('/api/sessions/s1?link=tok%2F%2B1', expect.objectContaining({ method: 'GET' }));
    expect(socket.url).toBe('ws://hub/ws/sessions/s1?after=0&link=tok%2F%2B1');

    socket.onclose?.({ code: 1006, reason: '' });
    // Up to the first reconnect only: a later one would drop this socket unanswered.
    for (let waited = 0; sockets.length === 1 && waited < 60_000; waited += 50) vi.advanceTimersByTime(50);
    const again = sockets[1];
    if (!again) throw new Error('no reconnect');
    expect(again.url).toBe('ws://hub/ws/sessions/s1?after=2&link=tok%2F%2B1');

    again.readyState = 1;
    again.onopen?.({});
    again.push({ type: 'replay_start', after: 2, last_seq: 3 });
    again.push({ type: 'status', seq: 3, ts, status: 'completed' });
    again.push({ type: 'replay_complete', last_seq: 3 });
    vi.advanceTimersByTime(20);
    const urls = vi.mocked(fetch).mock.calls.map((c) => String(c[0]));
    expect(urls).toHaveLength(2); // loaded again when it ended
    expect(new Set(urls)).toEqual(new Set(['/api/sessions/s1?link=tok%2F%2B1']));
  });

  it('rebuilds the view from scratch when the hub says the store lost what it showed', async () => {
    const { controller, socket, sockets } = await connected();
    socket.push({ type: 'replay_start', after: 0, last_seq: 2, epoch: 'E1' }); // as a hub names it
    vi.advanceTimersByTime(20);
    expect(controller.getSnapshot().store.pending.map((r) => r.request_id)).toEqual(['c1', 'i1']);
    socket.onclose?.({ code: 1012, reason: '' });
    for (let waited = 0; sockets.length === 1 && waited < 60_000; waited += 50) vi.advanceTimersByTime(50);
    const again = sockets[1];
    if (!again) throw new Error('no reconnect');
    expect(again.url).toBe('ws://hub/ws/sessions/s1?after=2&epoch=E1');
    again.readyState = 1;
    again.onopen?.({});
    // Event 2 (the input request) is gone from the store; seq 2 is another event now.
    again.push({ type: 'replay_start', after: 0, last_seq: 2, epoch: 'E2', reset: true });
    expect(controller.getSnapshot().store.lastSeq).toBe(0);
    expect(controller.getSnapshot().caughtUp).toBe(false);
    again.push(confirmRequest);
    again.push({ type: 'stream', seq: 2, ts, content: 'carried on' });
    again.push({ type: 'replay_complete', last_seq: 2 });
    vi.advanceTimersByTime(20);
    const view = controller.getSnapshot();
    expect(view.store.pending.map((r) => r.request_id)).toEqual(['c1']);
    expect(view.store.lines.map((l) => l.seq)).toEqual([1, 2]);
    expect(view.caughtUp).toBe(true);
    expect(view.toasts.map((t) => t.text)).toEqual([HISTORY_RESET]);
  });

  it('says a link expired or was revoked when the hub no longer knows the session by it (404 or 4404)', async () => {
    const body = { error: { code: 'unknown_session', message: "No session 's1' exists for this user." } };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status: 404 })));
    const gone = new SessionController('s1', { link: 'tok', createSocket: (url) => new FakeSocket(url) });
    await gone.start();
    expect(gone.getSnapshot().missing).toBe(LINK_GONE);
    expect(LINK_GONE).toBe('This link has expired or was revoked.');

    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(session), { status: 200 })));
    const { controller, socket } = await connected('tok');
    socket.onclose?.({ code: 4404, reason: 'unknown session' });
    expect(controller.getSnapshot().missing).toBe(LINK_GONE);
  });

  it('passes a WS error frame `forbidden` on to the form as such', async () => {
    const { controller, socket } = await connected();
    const request = controller.getSnapshot().store.pending[0];
    if (!request) throw new Error('no request');
    const outcome = controller.answer(request, true);
    socket.push({ type: 'error', code: 'forbidden', message: 'You may only watch.', ref: socket.sent[0]?.ref });
    await expect(outcome).resolves.toMatchObject({ ok: false, code: 'forbidden', message: 'You may only watch.' });
  });

  it('passes an HTTP 403 `forbidden` on to the form as such (the socket being down)', async () => {
    const { controller, socket } = await connected();
    const request = controller.getSnapshot().store.pending[0];
    if (!request) throw new Error('no request');
    socket.onclose?.({ code: 1006, reason: '' });
    const body = { error: { code: 'forbidden', message: 'You may only watch.' } };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status: 403 })));
    await expect(controller.answer(request, true)).resolves.toMatchObject({ ok: false, code: 'forbidden', message: 'You may only watch.' });
    expect(vi.mocked(fetch).mock.calls[0]?.[0]).toBe('/api/sessions/s1/requests/c1');
  });
});
