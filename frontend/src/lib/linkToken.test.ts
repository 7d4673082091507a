import { describe, expect, it } from 'vitest';
import { linkFromSearch, withLink } from './linkToken';

describe('a share link’s token', () => {
  it('is read from the page’s query string, beside other parameters', () => {
    expect(linkFromSearch('?link=tok_123')).toBe('tok_123');
    expect(linkFromSearch('?from=s1&link=a%2Bb')).toBe('a+b');
    expect(linkFromSearch('')).toBeNull();
    expect(linkFromSearch('?link=')).toBeNull();
  });
  it('is added to a path with or without a query, encoded', () => {
    expect(withLink('/api/sessions/s1', 'a+b/c')).toBe('/api/sessions/s1?link=a%2Bb%2Fc');
    expect(withLink('ws://h/ws/sessions/s1?after=7', 'tok')).toBe('ws://h/ws/sessions/s1?after=7&link=tok');
  });
  it('leaves a path alone when there is none', () => {
    expect(withLink('/api/sessions/s1', null)).toBe('/api/sessions/s1');
  });
});
