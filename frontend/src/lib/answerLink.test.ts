import { describe, expect, it } from 'vitest';
import { choiceFromSearch, choiceLabels, closesTheLink, linkProblem, loginHref, needsSignIn, nextFromSearch, safeNext } from './answerLink';
import { matchRoute } from './router';

describe('answer links', () => {
  it('route /answer/{token} to the answer page, the token decoded', () => {
    expect(matchRoute('/answer/abc.def')).toEqual({ page: 'answer', token: 'abc.def' });
    expect(matchRoute('/answer/a%2Eb')).toEqual({ page: 'answer', token: 'a.b' });
    expect(matchRoute('/answer')).toEqual({ page: 'not_found' });
    expect(matchRoute('/answer/a/b')).toEqual({ page: 'not_found' });
  });
  it('preselect only the two choices a mail names', () => {
    expect(choiceFromSearch('?choice=approve')).toBe('approve');
    expect(choiceFromSearch('?choice=decline')).toBe('decline');
    expect(choiceFromSearch('?choice=yes')).toBeNull();
    expect(choiceFromSearch('')).toBeNull();
  });
  it('label a retry’s choices as a retry', () => {
    expect(choiceLabels('confirm')).toEqual({ approve: 'Approve', decline: 'Decline' });
    expect(choiceLabels('retry')).toEqual({ approve: 'Retry', decline: 'Give up' });
  });
  it('say clearly why a link does not answer, and keep the form for anything else', () => {
    expect(linkProblem('link_used', 'x').title).toBe('This link was already used');
    expect(linkProblem('link_expired', undefined).title).toBe('This link has expired');
    expect(linkProblem('already_answered', undefined).title).toBe('Already answered');
    expect(linkProblem('unknown_link', undefined).title).toBe('This link is not valid');
    expect(linkProblem('store_unavailable', 'Redis is down').text).toBe('Redis is down');
    expect(closesTheLink('link_used')).toBe(true);
    expect(closesTheLink('invalid_value')).toBe(false);
    expect(closesTheLink(undefined)).toBe(false);
  });
  it('ask for a sign-in only when the hub requires it and the link’s person is not signed in', () => {
    expect(needsSignIn({ person: 'user:bob' })).toBe(false);
    expect(needsSignIn({ person: 'user:bob', login_required: false, signed_in_as: null })).toBe(false);
    expect(needsSignIn({ person: 'user:bob', login_required: true, signed_in_as: null })).toBe(true);
    expect(needsSignIn({ person: 'user:bob', login_required: true, signed_in_as: 'user:carol' })).toBe(true);
    expect(needsSignIn({ person: 'user:bob', login_required: true, signed_in_as: 'user:bob' })).toBe(false);
  });
  it('send the login page back to the answer page, and only to a page of this app', () => {
    const href = loginHref('/answer/t.k?choice=approve');
    expect(href).toBe('/login?next=%2Fanswer%2Ft.k%3Fchoice%3Dapprove');
    expect(nextFromSearch(href.slice('/login'.length))).toBe('/answer/t.k?choice=approve');
    expect(nextFromSearch('')).toBeNull();
    for (const bad of ['https://evil.example/', '//evil.example/', '/\\evil.example', 'answer/x', '/a\nb']) {
      expect(safeNext(bad)).toBeNull();
    }
    expect(safeNext('/sessions?status=failed')).toBe('/sessions?status=failed');
  });
});
