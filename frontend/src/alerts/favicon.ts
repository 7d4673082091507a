// The tab's icon with the inbox count on it: drawn on a canvas and swapped in as a
// `data:` PNG (the CSP's img-src allows data:), the page's own icon put back at 0.

/** The few canvas calls the badge makes (a CanvasRenderingContext2D has them all). */
export type BadgePainter = Pick<
  CanvasRenderingContext2D,
  'clearRect' | 'beginPath' | 'arc' | 'fill' | 'stroke' | 'fillText'
  | 'fillStyle' | 'strokeStyle' | 'lineWidth' | 'font' | 'textAlign' | 'textBaseline'
>;

const BRAND = '#4f46e5'; // the icon's colour in index.html
const BADGE = '#dc2626';

/** The badge's text: the count up to 9, then "9+"; "" for nothing. */
export function badgeText(count: number): string {
  if (!Number.isFinite(count) || count <= 0) return '';
  return count > 9 ? '9+' : String(Math.floor(count));
}

/** Draw the Tether icon (two rings, as in index.html) and, for a count, a red disc with
 * the count in its top right corner, on a `size`×`size` canvas. */
export function drawBadgedIcon(ctx: BadgePainter, count: number, size = 32): void {
  const u = size / 32;
  ctx.clearRect(0, 0, size, size);
  ctx.strokeStyle = BRAND;
  ctx.lineWidth = 3 * u;
  for (const cx of [9, 23]) {
    ctx.beginPath();
    ctx.arc(cx * u, 16 * u, 6 * u, 0, 2 * Math.PI);
    ctx.stroke();
  }
  const text = badgeText(count);
  if (text === '') return;
  const r = 10 * u;
  ctx.fillStyle = BADGE;
  ctx.beginPath();
  ctx.arc(size - r, r, r, 0, 2 * Math.PI);
  ctx.fill();
  ctx.fillStyle = '#ffffff';
  ctx.font = `bold ${(text.length > 1 ? 11 : 14) * u}px sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, size - r, r + u);
}

/** A data: URL of the badged icon; null where the browser cannot draw (no 2D canvas). */
export function renderBadgedIcon(doc: Document, count: number, size = 32): string | null {
  const canvas = doc.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    ctx = canvas.getContext('2d');
  } catch {
    return null;
  }
  if (ctx === null) return null;
  drawBadgedIcon(ctx, count, size);
  return canvas.toDataURL('image/png');
}

/** Keeps the page's `<link rel="icon">` in step with a count. */
export class FaviconBadge {
  private original: string | null = null;
  private readonly drawn = new Map<string, string | null>();

  constructor(
    private readonly doc: Document,
    private readonly render: (count: number) => string | null = (count) => renderBadgedIcon(doc, count),
  ) {}

  show(count: number): void {
    const link = this.doc.querySelector<HTMLLinkElement>('link[rel~="icon"]');
    if (link === null) return;
    this.original ??= link.getAttribute('href');
    const text = badgeText(count);
    let href = this.original;
    if (text !== '') {
      // One drawing per text ("9+" covers every larger count).
      if (!this.drawn.has(text)) this.drawn.set(text, this.render(count));
      href = this.drawn.get(text) ?? this.original;
    }
    if (href !== null && link.getAttribute('href') !== href) link.setAttribute('href', href);
  }
}
