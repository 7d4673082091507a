import { describe, expect, it } from 'vitest';
import type { Request } from '../protocol';
import { claimedInPlace, createRegistry, resolveView, type TaskViewProps } from './registry';

const Drafts = (_: TaskViewProps) => null;
const request = (name: string): Request => ({
  request_id: name, kind: 'input', prompt: '?', created_at: '2026-11-21T10:00:00Z',
  fields: [{ name, description: name, type: 'string', required: true }],
});

describe('the view registry', () => {
  const registry = createRegistry({ drafts: { component: Drafts, claims: (r) => r.request_id === 'inline' } });

  it('gives a task the view it names', () => {
    const resolved = resolveView(registry, 'drafts');
    expect(resolved.kind).toBe('registered');
    expect(resolved.kind === 'registered' && resolved.view.component).toBe(Drafts);
  });

  it('gives the generic view to a task that names none, and says nothing', () => {
    expect(resolveView(registry, undefined)).toEqual({ kind: 'generic', unknown: null });
    expect(resolveView(registry, null)).toEqual({ kind: 'generic', unknown: null });
    expect(resolveView(registry, '')).toEqual({ kind: 'generic', unknown: null });
  });

  it('gives the generic view to an unknown name, and keeps the name for a quiet note', () => {
    expect(resolveView(registry, 'gantt')).toEqual({ kind: 'generic', unknown: 'gantt' });
  });

  it('opens no dialog for the requests a registered view answers in place', () => {
    const resolved = resolveView(registry, 'drafts');
    expect(claimedInPlace(resolved, request('inline'))).toBe(true);
    expect(claimedInPlace(resolved, request('other'))).toBe(false);
    expect(claimedInPlace(resolveView(registry, 'gantt'), request('inline'))).toBe(false);
  });

  it('refuses a name the hub would refuse', () => {
    expect(() => createRegistry({ Drafts: { component: Drafts } })).toThrow(/not valid/);
    expect(() => createRegistry({ 'a b': { component: Drafts } })).toThrow(/not valid/);
  });
});

describe('the app registry', () => {
  it('has the email assistant as one entry that answers its questions in place', async () => {
    // Imported lazily: the entry pulls in the view's components.
    const { VIEWS } = await import('./index');
    const entry = VIEWS.get('email_assistant');
    expect(entry?.showsInputs).toBe(true);
    expect(entry?.claims?.(request('q1'))).toBe(true);
    expect(entry?.claims?.(request('subject'))).toBe(false);
  });
});
