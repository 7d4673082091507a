// Who a session is shared with, as the hub names them: `user:NAME` or `group:NAME`.

export type ShareTarget = { ok: true; with: string } | { ok: false; message: string };

const PREFIXES = ['user:', 'group:'] as const;

/** What the share form's "with" field means: `user:bob` and `group:finance` as typed, a
 * bare name as `user:NAME`. The hub checks the name itself (an account's rules differ from
 * a proxy's); this only refuses what cannot be a target at all. */
export function parseShareTarget(input: string): ShareTarget {
  const text = input.trim();
  if (text === '') return { ok: false, message: 'Name a user (bob or user:bob) or a group (group:finance).' };
  if (/\s/.test(text)) return { ok: false, message: 'A name has no spaces.' };
  const prefix = PREFIXES.find((p) => text.startsWith(p));
  if (prefix !== undefined) {
    return text.length > prefix.length ? { ok: true, with: text } : { ok: false, message: `Add a name after “${prefix}”.` };
  }
  if (text.includes(':')) return { ok: false, message: 'Share with user:NAME or group:NAME.' };
  return { ok: true, with: `user:${text}` };
}

/** A target for people: `bob`, `group finance`. */
export function targetLabel(target: string): string {
  if (target.startsWith('user:')) return target.slice('user:'.length);
  if (target.startsWith('group:')) return `group ${target.slice('group:'.length)}`;
  return target;
}
