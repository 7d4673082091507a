import { describe, expect, it } from 'vitest';
import { filtersFromSearch, sessionsUrl } from './filters';

describe('session filters in the URL', () => {
  it('round-trip through the query string', () => {
    expect(filtersFromSearch('?status=failed')).toEqual({ status: 'failed' });
    expect(sessionsUrl({ status: 'failed' })).toBe('/sessions?status=failed');
    expect(filtersFromSearch(new URL(`http://h${sessionsUrl({ status: 'waiting' })}`).search)).toEqual({ status: 'waiting' });
  });
  it('leave the unfiltered list without a query', () => {
    expect(filtersFromSearch('')).toEqual({ status: '' });
    expect(sessionsUrl({ status: '' })).toBe('/sessions');
  });
  it('ignore a status the hub does not have, instead of asking it (it would answer 400)', () => {
    expect(filtersFromSearch('?status=bogus')).toEqual({ status: '' });
    expect(filtersFromSearch('?status=')).toEqual({ status: '' });
  });
});
