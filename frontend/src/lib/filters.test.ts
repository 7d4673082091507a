import { describe, expect, it } from 'vitest';
import type { Me } from '../protocol';
import { filtersFromSearch, scopeTabs, sessionsUrl } from './filters';

describe('session filters in the URL', () => {
  it('round-trip through the query string', () => {
    expect(filtersFromSearch('?status=failed')).toEqual({ status: 'failed', scope: 'own' });
    expect(sessionsUrl({ status: 'failed', scope: 'own' })).toBe('/sessions?status=failed');
    expect(filtersFromSearch(new URL(`http://h${sessionsUrl({ status: 'waiting', scope: 'shared' })}`).search))
      .toEqual({ status: 'waiting', scope: 'shared' });
  });
  it('leave the unfiltered list of one’s own sessions without a query', () => {
    expect(filtersFromSearch('')).toEqual({ status: '', scope: 'own' });
    expect(sessionsUrl({ status: '', scope: 'own' })).toBe('/sessions');
    expect(sessionsUrl({ status: '', scope: 'all' })).toBe('/sessions?scope=all');
  });
  it('ignore a status or scope the hub does not have, instead of asking it (it would answer 400)', () => {
    expect(filtersFromSearch('?status=bogus')).toEqual({ status: '', scope: 'own' });
    expect(filtersFromSearch('?status=')).toEqual({ status: '', scope: 'own' });
    expect(filtersFromSearch('?scope=everyone')).toEqual({ status: '', scope: 'own' });
  });
});

describe('the list’s tabs', () => {
  const me = (mode: Me['mode'], roles: string[]): Me => ({ id: 'user:bob', name: 'bob', roles, groups: [], mode });
  it('are none in single-person mode, where nobody else could have shared anything', () => {
    expect(scopeTabs(me('anonymous', []))).toEqual([]);
    expect(scopeTabs(null)).toEqual([]);
  });
  it('are "mine" and "shared with me" for a member, and also "all" for an admin', () => {
    expect(scopeTabs(me('accounts', ['member'])).map((t) => t.scope)).toEqual(['own', 'shared']);
    expect(scopeTabs(me('proxy', ['member', 'admin'])).map((t) => t.scope)).toEqual(['own', 'shared', 'all']);
  });
});
