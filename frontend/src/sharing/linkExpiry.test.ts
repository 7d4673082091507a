import { describe, expect, it } from 'vitest';
import { LINK_EXPIRIES, linkAddress } from './linkExpiry';

describe('read-only links', () => {
  it('offer 1 hour, 1 day and 7 days, in seconds the hub accepts (60 s to 30 days)', () => {
    expect(LINK_EXPIRIES.map((x) => [x.label, x.seconds])).toEqual([['1 hour', 3600], ['1 day', 86_400], ['7 days', 604_800]]);
    for (const x of LINK_EXPIRIES) expect(x.seconds >= 60 && x.seconds <= 30 * 86_400).toBe(true);
  });
  it('are handed out as this origin plus the hub’s path', () => {
    expect(linkAddress('https://hub.example:8443', '/sessions/s1?link=tok')).toBe('https://hub.example:8443/sessions/s1?link=tok');
  });
});
