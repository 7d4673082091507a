import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api } from './api';

let calls: { url: string; method: string; body: unknown }[] = [];

beforeEach(() => {
  calls = [];
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method ?? 'GET', body: init.body === undefined ? undefined : JSON.parse(String(init.body)) });
    if (init.method === 'DELETE') return new Response(null, { status: 204 });
    return new Response(JSON.stringify({ sessions: [], next: null, shares: [], links: [] }), { status: 200 });
  }));
});
afterEach(() => vi.unstubAllGlobals());

describe('the sharing API', () => {
  it('asks for the sessions shared with the caller, or (admins) all of them', async () => {
    await api.sessions({ scope: 'shared', limit: 20 });
    await api.sessions({ scope: 'all' });
    await api.sessions({ scope: 'own', status: 'waiting' });
    expect(calls.map((c) => c.url)).toEqual(['/api/sessions?shared=1&limit=20', '/api/sessions?all=1', '/api/sessions?status=waiting']);
  });
  it('URL-encodes the share target and the link id in DELETE paths', async () => {
    await api.unshare('s 1', 'group:fin/ance');
    await api.revokeLink('s1', 'l/1');
    expect(calls).toEqual([
      { url: '/api/sessions/s%201/shares/group%3Afin%2Fance', method: 'DELETE', body: undefined },
      { url: '/api/sessions/s1/links/l%2F1', method: 'DELETE', body: undefined },
    ]);
  });
  it('sends a share and a link’s lifetime as the hub names them', async () => {
    await api.share('s1', 'user:bob', 'answerer');
    await api.createLink('s1', 3600);
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/sessions/s1/shares', { with: 'user:bob', role: 'answerer' }],
      ['POST', '/api/sessions/s1/links', { expires_in: 3600 }],
    ]);
  });
  it('turns the error envelope of a refusal into an ApiError with its code', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ error: { code: 'forbidden', message: 'Viewers may not share.' } }), { status: 403 })));
    const refused = await api.shares('s1').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 403, code: 'forbidden', message: 'Viewers may not share.' });
  });
});
