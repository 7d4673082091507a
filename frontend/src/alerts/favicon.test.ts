// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { type BadgePainter, FaviconBadge, badgeText, drawBadgedIcon } from './favicon';

/** A 2D context that records what was drawn (jsdom has no canvas drawing). */
function recorder(): BadgePainter & { calls: string[] } {
  const calls: string[] = [];
  const painter = {
    calls,
    fillStyle: '' as BadgePainter['fillStyle'],
    strokeStyle: '' as BadgePainter['strokeStyle'],
    lineWidth: 1,
    font: '',
    textAlign: 'start' as CanvasTextAlign,
    textBaseline: 'alphabetic' as CanvasTextBaseline,
    clearRect: (...a: number[]) => void calls.push(`clear ${a.join(' ')}`),
    beginPath: () => void calls.push('path'),
    arc: (x: number, y: number, r: number) => void calls.push(`arc ${x} ${y} ${r}`),
    fill: () => void calls.push(`fill ${String(painter.fillStyle)}`),
    stroke: () => void calls.push(`stroke ${String(painter.strokeStyle)}`),
    fillText: (text: string, x: number, y: number) => void calls.push(`text ${text} ${x} ${y} ${painter.font}`),
  };
  return painter as BadgePainter & { calls: string[] };
}

describe('the favicon badge', () => {
  it('counts up to 9, then says 9+', () => {
    expect(badgeText(0)).toBe('');
    expect(badgeText(-1)).toBe('');
    expect(badgeText(3)).toBe('3');
    expect(badgeText(9)).toBe('9');
    expect(badgeText(10)).toBe('9+');
  });

  it('draws the two rings, and the count on a red disc in the corner', () => {
    const ctx = recorder();
    drawBadgedIcon(ctx, 4, 32);
    expect(ctx.calls).toEqual([
      'clear 0 0 32 32',
      'path', 'arc 9 16 6', 'stroke #4f46e5',
      'path', 'arc 23 16 6', 'stroke #4f46e5',
      'path', 'arc 22 10 10', 'fill #dc2626',
      'text 4 22 11 bold 14px sans-serif',
    ]);
  });

  it('draws no disc for 0, and scales with the size', () => {
    const plain = recorder();
    drawBadgedIcon(plain, 0, 64);
    expect(plain.calls.some((c) => c.startsWith('text') || c.startsWith('fill'))).toBe(false);
    expect(plain.calls).toContain('arc 46 32 12');
    const many = recorder();
    drawBadgedIcon(many, 12, 32);
    expect(many.calls.at(-1)).toBe('text 9+ 22 11 bold 11px sans-serif');
  });

  it('swaps the page icon for the drawing and puts the original back at 0', () => {
    document.head.innerHTML = '<link rel="icon" href="data:image/svg+xml,rings">';
    const drawn: number[] = [];
    const badge = new FaviconBadge(document, (count) => {
      drawn.push(count);
      return `data:image/png;base64,${count}`;
    });
    const href = (): string | null => document.querySelector('link[rel~="icon"]')!.getAttribute('href');
    badge.show(0);
    expect(href()).toBe('data:image/svg+xml,rings');
    badge.show(2);
    expect(href()).toBe('data:image/png;base64,2');
    badge.show(2);
    badge.show(11);
    badge.show(15); // "9+" again: drawn once
    expect(drawn).toEqual([2, 11]);
    badge.show(0);
    expect(href()).toBe('data:image/svg+xml,rings');
  });

  it('keeps the page icon where nothing can be drawn', () => {
    document.head.innerHTML = '<link rel="icon" href="/icon.svg">';
    const badge = new FaviconBadge(document, () => null);
    badge.show(3);
    expect(document.querySelector('link')!.getAttribute('href')).toBe('/icon.svg');
  });
});
