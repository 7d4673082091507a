import { describe, expect, it } from 'vitest';
import type { Me, Request } from '../protocol';
import { mayAnswer, permissionsFor } from './permissions';

const request = (assignees?: string[]): Request => ({
  request_id: 'r1', kind: 'confirm', prompt: 'Send?', created_at: '2026-12-01T00:00:00Z', ...(assignees ? { assignees } : {}),
});
const me = (id: string, opts: { groups?: string[]; admin?: boolean } = {}): Me => ({
  id, name: id.replace('user:', ''), groups: opts.groups ?? [], roles: opts.admin ? ['member', 'admin'] : ['member'], mode: 'accounts',
});

describe('what the session page offers', () => {
  it('is everything for the owner and an admin', () => {
    for (const level of ['owner', 'admin'] as const) {
      expect(permissionsFor(level, false)).toEqual({ readOnly: false, viaLink: false, answer: true, cancel: true, fork: true, share: true });
    }
  });
  it('is answering only, for someone it is shared with to answer', () => {
    expect(permissionsFor('answerer', false)).toEqual({ readOnly: false, viaLink: false, answer: true, cancel: false, fork: false, share: false });
  });
  it('is nothing but watching for a viewer', () => {
    expect(permissionsFor('viewer', false)).toEqual({ readOnly: true, viaLink: false, answer: false, cancel: false, fork: false, share: false });
  });
  it('is nothing but watching through a share link, whoever is logged in', () => {
    expect(permissionsFor('owner', true)).toEqual({ readOnly: true, viaLink: true, answer: false, cancel: false, fork: false, share: false });
    expect(permissionsFor(undefined, true).readOnly).toBe(true);
  });
  it('is the owner’s while the hub says nothing (an older hub showed sessions to their owner only)', () => {
    expect(permissionsFor(undefined, false)).toEqual(permissionsFor('owner', false));
    expect(permissionsFor(null, false).readOnly).toBe(false);
  });
});

describe('who may answer a request', () => {
  it('follows the level when the request names nobody', () => {
    expect(mayAnswer(permissionsFor('answerer', false), request(), me('user:bob'))).toBe(true);
    expect(mayAnswer(permissionsFor('viewer', false), request(), me('user:bob'))).toBe(false);
    expect(mayAnswer(permissionsFor('viewer', false), request([]), me('user:bob'))).toBe(false);
  });
  it('is only an assignee (by id or group) or an admin when the request names people, even a viewer', () => {
    const viewer = permissionsFor('viewer', false);
    const owner = permissionsFor('owner', false);
    expect(mayAnswer(viewer, request(['user:bob']), me('user:bob'))).toBe(true);
    expect(mayAnswer(viewer, request(['group:finance']), me('user:carol', { groups: ['finance'] }))).toBe(true);
    expect(mayAnswer(owner, request(['user:bob']), me('user:alice'))).toBe(false);
    expect(mayAnswer(owner, request(['group:finance']), me('user:alice', { groups: ['sales'] }))).toBe(false);
    expect(mayAnswer(permissionsFor('admin', false), request(['user:bob']), me('user:root', { admin: true }))).toBe(true);
    expect(mayAnswer(owner, request(['user:bob']), null)).toBe(false);
  });
  it('is never a link’s holder', () => {
    expect(mayAnswer(permissionsFor(undefined, true), request(['user:bob']), me('user:bob'))).toBe(false);
  });
});
