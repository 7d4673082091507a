import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { LogLine } from '../session/store';
import { Markdown } from './Markdown';

/** Height of a plain row in px; must match `.log-row` in styles.css. */
export const ROW_HEIGHT = 22;
const OVERSCAN_PX = 400;

interface Props {
  lines: readonly LogLine[];
  /** The session's owner: their answers read "by you". */
  me: string | null;
  /** Where a line's question can be forked from (an event seq), or null. */
  forkAt?: (line: LogLine) => number | null;
  /** Fork at that seq; `busy` while a fork is being made. Keep it stable (useCallback). */
  onFork?: (atSeq: number) => void;
  busy?: boolean;
}

/**
 * The session's log, virtualised: only the rows in view are in the DOM, so 50,000 lines
 * scroll as smoothly as 50. Plain rows have a fixed height; markdown blocks are measured
 * once drawn. It follows the tail until the reader scrolls up.
 */
export function EventLog({ lines, me, forkAt, onFork, busy = false }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<number, number>()); // index -> measured height (markdown rows)
  const [measured, setMeasured] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(480);
  const [follow, setFollow] = useState(true);
  const followRef = useRef(true);
  const [seenCount, setSeenCount] = useState(0);

  if (lines.length < heights.current.size) heights.current.clear();

  // offsets[i] = top of row i; offsets[n] = total height. O(n) per batch of new lines.
  const offsets = useMemo(() => {
    const out = new Float64Array(lines.length + 1);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const h = line !== undefined && isBlock(line) ? (heights.current.get(i) ?? estimate(line.text)) : ROW_HEIGHT;
      out[i + 1] = (out[i] ?? 0) + h;
    }
    return out;
    // `measured` changes when a markdown row's real height is known
  }, [lines, measured]);
  const total = offsets[lines.length] ?? 0;

  const first = Math.max(0, findRow(offsets, scrollTop - OVERSCAN_PX));
  const last = Math.min(lines.length, findRow(offsets, scrollTop + viewport + OVERSCAN_PX) + 1);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    setViewport(el.clientHeight);
    return () => observer.disconnect();
  }, []);

  // Measure markdown rows that were just drawn.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    let changed = false;
    el.querySelectorAll<HTMLElement>('[data-measure]').forEach((row) => {
      const index = Number(row.dataset.index);
      const h = row.offsetHeight;
      if (heights.current.get(index) !== h) {
        heights.current.set(index, h);
        changed = true;
      }
    });
    if (changed) setMeasured((m) => m + 1);
  });

  // Follow the tail.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && followRef.current) {
      el.scrollTop = el.scrollHeight;
      setSeenCount(lines.length);
    }
  }, [lines.length, total]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
    if (atBottom !== followRef.current) {
      followRef.current = atBottom;
      setFollow(atBottom);
    }
  }, []);

  const jumpToEnd = (): void => {
    const el = scroller.current;
    if (!el) return;
    followRef.current = true;
    setFollow(true);
    el.scrollTop = el.scrollHeight;
  };

  useEffect(() => {
    if (follow) setSeenCount(lines.length);
  }, [follow, lines.length]);

  const rows = [];
  for (let i = first; i < last; i++) {
    const line = lines[i];
    if (!line) continue;
    const fork = onFork && forkAt ? forkAt(line) : null;
    rows.push(
      <Row key={line.seq} line={line} index={i} top={offsets[i] ?? 0} me={me} fork={fork} onFork={onFork} busy={busy} />,
    );
  }
  const unseen = lines.length - seenCount;

  return (
    <div className="log-wrap">
      <div
        ref={scroller}
        className="log"
        role="log"
        aria-live="off"
        aria-label={`Task log, ${lines.length} lines`}
        tabIndex={0}
        onScroll={onScroll}
        data-lines={lines.length}
      >
        <div className="log-inner" style={{ height: total }}>
          {rows}
        </div>
        {lines.length === 0 && <p className="log-empty">Nothing logged yet.</p>}
      </div>
      {!follow && (
        <button type="button" className="button jump" onClick={jumpToEnd}>
          ↓ {unseen > 0 ? `${unseen.toLocaleString()} new ${unseen === 1 ? 'line' : 'lines'}` : 'Latest'}
        </button>
      )}
    </div>
  );
}

/** An event of several lines (markdown, or a stream line with newlines) is a block of
 * its own measured height; one line fits a row. */
function isBlock(line: LogLine): boolean {
  return line.text.includes('\n');
}

function estimate(text: string): number {
  return ROW_HEIGHT * Math.max(1, text.split('\n').length) + 8;
}

/** The index of the row at vertical position `y` (binary search over offsets). */
function findRow(offsets: Float64Array, y: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  if (hi < 0) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((offsets[mid] ?? 0) <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

const SYMBOL: Record<LogLine['kind'], string> = {
  stream: '', markdown: '', status: '●', request: '?', answer: '✓', failure: '✕', done: '✓', notice: 'ℹ',
};

interface RowProps {
  line: LogLine;
  index: number;
  top: number;
  me: string | null;
  fork: number | null;
  onFork: ((atSeq: number) => void) | undefined;
  busy: boolean;
}

const Row = memo(function Row({ line, index, top, me, fork, onFork, busy }: RowProps) {
  const time = formatTime(line.ts);
  const markdown = line.kind === 'markdown';
  const block = isBlock(line);
  const text = line.kind === 'answer' ? `${line.text} by ${line.by === me ? 'you' : (line.by ?? 'someone')}` : line.text;
  return (
    <div
      className={`log-row log-${line.kind}${block ? ' log-block' : ''}`}
      style={{ transform: `translateY(${top}px)`, height: block ? undefined : ROW_HEIGHT }}
      data-index={index}
      data-seq={line.seq}
      data-measure={block ? '' : undefined}
    >
      <time className="log-time" dateTime={line.ts}>{time}</time>
      {SYMBOL[line.kind] && <span className="log-symbol" aria-hidden="true">{SYMBOL[line.kind]}</span>}
      {markdown ? <Markdown source={line.text} inline={!block} className="log-text" /> : <span className="log-text" title={text.length > 80 ? text : undefined}>{text}</span>}
      {fork !== null && onFork && (
        <button
          type="button"
          className="log-fork"
          disabled={busy}
          title="Start a new session that asks this question again"
          data-fork-at={fork}
          onClick={() => onFork(fork)}
        >
          Fork from here
        </button>
      )}
    </div>
  );
});

function formatTime(ts: string): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}
