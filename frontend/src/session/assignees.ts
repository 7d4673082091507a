// Assigned requests (PROTOCOL.md, "assignees"): who a request waits for, and whether the
// person looking at it is one of them. The hub decides who may answer; this (with
// permissions.ts) only decides what to show: the form, or "waiting for finance".
import type { Me } from '../protocol';

/** `user:bob` -> `bob`, `group:finance` -> `finance`; anything else as it is. */
export function personName(id: string): string {
  return id.replace(/^(user|group):/, '');
}

/** True when one of `assignees` names `me`: its id, or one of its groups. */
export function addressedTo(me: Me, assignees: readonly string[]): boolean {
  return assignees.some((a) => a === me.id || (a.startsWith('group:') && me.groups.includes(a.slice(6))));
}

/** "finance", "bob or finance", "ana, bob or finance". */
export function waitingFor(assignees: readonly string[]): string {
  const names = assignees.map(personName);
  if (names.length <= 1) return names[0] ?? 'the owner';
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1] ?? ''}`;
}
