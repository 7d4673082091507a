// How long a new read-only link lasts (the hub takes 60 s to 30 days, `expires_in`).

export const LINK_EXPIRIES: readonly { label: string; seconds: number }[] = [
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 7 * 86_400 },
];

/** The full address to hand out: the hub's `url` is a path on this origin. */
export function linkAddress(origin: string, url: string): string {
  return new URL(url, origin).href;
}
