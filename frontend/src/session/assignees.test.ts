import { describe, expect, it } from 'vitest';
import type { Me } from '../protocol';
import { addressedTo, personName, waitingFor } from './assignees';

const me = (name: string, groups: string[] = [], admin = false): Me => ({
  id: `user:${name}`, name, groups, roles: admin ? ['member', 'admin'] : ['member'], mode: 'accounts',
});

describe('assigned requests', () => {
  it('are addressed to a user by id and to members of a group', () => {
    expect(addressedTo(me('bob'), ['user:bob'])).toBe(true);
    expect(addressedTo(me('carol', ['finance']), ['group:finance'])).toBe(true);
    expect(addressedTo(me('bob', ['sales']), ['group:finance', 'user:ana'])).toBe(false);
    expect(addressedTo(me('bob'), ['group:bob'])).toBe(false);
  });

  it('say whom they wait for by name', () => {
    expect(waitingFor(['group:finance'])).toBe('finance');
    expect(waitingFor(['user:bob', 'group:finance'])).toBe('bob or finance');
    expect(waitingFor(['user:ana', 'user:bob', 'group:finance'])).toBe('ana, bob or finance');
    expect(personName('u_0123')).toBe('u_0123');
  });
});
