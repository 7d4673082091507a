import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Event, ServerFrame } from '../protocol';
import { type ConnectionState, SessionSocket, type WebSocketLike } from './SessionSocket';

/** A WebSocket the test drives by hand. */
class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: string[] = [];
  closedWith: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(data: ServerFrame | Event): void {
    this.onmessage?.({ data: JSON.stringify(data) });
  }
  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  /** Open, then replay `events` between replay_start and replay_complete. */
  replay(after: number, events: Event[]): void {
    this.open();
    const last = events.length ? (events[events.length - 1]?.seq ?? after) : after;
    this.frame({ type: 'replay_start', after, last_seq: last });
    for (const e of events) this.frame(e);
    this.frame({ type: 'replay_complete', last_seq: last });
  }
}

const stream = (seq: number): Event => ({ type: 'stream', seq, ts: '2026-01-01T00:00:00Z', content: `line ${seq}` });
const range = (from: number, to: number): Event[] => Array.from({ length: to - from + 1 }, (_, i) => stream(from + i));

function setup(options: Partial<ConstructorParameters<typeof SessionSocket>[0]> = {}) {
  const sockets: FakeSocket[] = [];
  const events: Event[] = [];
  const states: ConnectionState[] = [];
  const dropped: unknown[] = [];
  const socket = new SessionSocket({
    url: (after) => `ws://hub/ws/sessions/s1?after=${after}`,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => 0, // no jitter unless a test asks for it
    heartbeatMs: 0,
    handlers: {
      event: (e) => events.push(e),
      state: (s) => states.push(s),
      dropped: (f) => dropped.push(f),
    },
    ...options,
  });
  const last = (): FakeSocket => {
    const s = sockets[sockets.length - 1];
    if (!s) throw new Error('no socket yet');
    return s;
  };
  return { socket, sockets, events, states, dropped, last };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SessionSocket backoff', () => {
  it('waits 500, 1000, 2000, ... ms between attempts, capped at the maximum', () => {
    const { socket, sockets, last } = setup({ minDelayMs: 500, maxDelayMs: 4000 });
    socket.start();
    const expected = [500, 1000, 2000, 4000, 4000];
    for (const delay of expected) {
      const count = sockets.length;
      last().serverClose(1006);
      vi.advanceTimersByTime(delay - 1);
      expect(sockets.length).toBe(count); // not yet
      vi.advanceTimersByTime(1);
      expect(sockets.length).toBe(count + 1); // exactly at the delay
    }
  });

  it('draws each delay from [d·(1 − jitter), d]', () => {
    const low = setup({ random: () => 1, jitter: 0.5, minDelayMs: 1000 }).socket;
    const high = setup({ random: () => 0, jitter: 0.5, minDelayMs: 1000 }).socket;
    expect(low.backoffDelay(1)).toBe(500);
    expect(high.backoffDelay(1)).toBe(1000);
    expect(low.backoffDelay(3)).toBe(2000);
  });

  it('shows when the next attempt is due, and starts over after a successful replay', () => {
    const { socket, states, last, sockets } = setup({ minDelayMs: 500 });
    vi.setSystemTime(10_000);
    socket.start();
    last().serverClose(1012); // hub restarting
    const waiting = states[states.length - 1];
    expect(waiting).toEqual({ phase: 'waiting', attempt: 1, retryAt: 10_500, code: 1012 });
    vi.advanceTimersByTime(500);
    last().serverClose(1006);
    expect(states[states.length - 1]).toMatchObject({ phase: 'waiting', attempt: 2 });
    vi.advanceTimersByTime(1000);
    last().replay(0, []);
    expect(socket.state).toEqual({ phase: 'open' });
    last().serverClose(1006);
    expect(states[states.length - 1]).toMatchObject({ phase: 'waiting', attempt: 1 });
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(4);
  });

  it('does not reconnect after 4404 (no such session)', () => {
    const { socket, sockets, last } = setup();
    socket.start();
    last().serverClose(4404);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(socket.state).toEqual({ phase: 'closed', reason: 'not_found' });
  });

  it('does not reconnect after 4401 (not authenticated), not even on "Retry now"', () => {
    const { socket, sockets, last, states } = setup();
    socket.start();
    last().replay(0, range(1, 2));
    last().serverClose(4401);
    expect(states[states.length - 1]).toEqual({ phase: 'closed', reason: 'not_authenticated' });
    socket.reconnectNow();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(socket.state).toEqual({ phase: 'closed', reason: 'not_authenticated' });
    expect(socket.lastSeq).toBe(2);
  });

  it('reconnects at once and quietly after 4008 (too slow)', () => {
    const { socket, sockets, last, states } = setup();
    socket.start();
    last().replay(0, range(1, 3));
    last().serverClose(4008);
    expect(sockets).toHaveLength(2);
    expect(sockets[1]?.url).toContain('after=3');
    expect(states[states.length - 1]).toEqual({ phase: 'connecting', attempt: 1, silent: true });
  });
});

describe('SessionSocket resume and dedupe', () => {
  it('resumes with after= the last seq it delivered', () => {
    const { socket, sockets, last, events } = setup();
    socket.start();
    expect(sockets[0]?.url).toMatch(/after=0$/);
    last().replay(0, range(1, 5));
    last().serverClose(1006);
    vi.advanceTimersByTime(500);
    expect(sockets[1]?.url).toMatch(/after=5$/);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('delivers each seq once when a replay overlaps what it holds', () => {
    const { socket, last, events } = setup();
    socket.start();
    last().replay(0, range(1, 4));
    last().serverClose(1006);
    vi.advanceTimersByTime(500);
    last().replay(2, range(3, 7)); // 3 and 4 again
    last().frame(stream(7)); // and a live duplicate
    last().frame(stream(8));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(socket.lastSeq).toBe(8);
  });

  it('drops the connection on a gap and asks again from the cursor', () => {
    const { socket, sockets, last, events } = setup();
    socket.start();
    last().replay(0, range(1, 2));
    last().frame(stream(4)); // 3 is missing
    expect(sockets[0]?.closedWith).toBe(4000);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    vi.advanceTimersByTime(500);
    expect(sockets[1]?.url).toMatch(/after=2$/);
  });

  it('takes a snapshot as the new cursor', () => {
    const { socket, last, events } = setup();
    socket.start();
    last().open();
    last().frame({ type: 'snapshot', seq: 40, ts: 't', session: {} as never });
    last().frame(stream(41));
    expect(events.map((e) => [e.type, e.seq])).toEqual([['snapshot', 40], ['stream', 41]]);
    expect(socket.lastSeq).toBe(40 + 1);
  });

  it('after a snapshot takes the kept tail from its seq + 1, and comes back after the last one', () => {
    const { socket, sockets, last, events } = setup({ after: 3 });
    socket.start();
    last().open();
    last().frame({ type: 'replay_start', after: 3, last_seq: 45 });
    last().frame({ type: 'snapshot', seq: 40, ts: 't', session: {} as never });
    for (const e of range(41, 45)) last().frame(e);
    last().frame({ type: 'replay_complete', last_seq: 45 });
    expect(events.map((e) => e.seq)).toEqual([40, 41, 42, 43, 44, 45]);
    last().serverClose(4008); // too slow: straight back, after the kept tail
    expect(sockets[1]?.url).toMatch(/after=45$/);
    last().open();
    last().frame({ type: 'replay_start', after: 45, last_seq: 300 });
    last().frame({ type: 'snapshot', seq: 200, ts: 't', session: {} as never });
    last().frame(stream(202)); // the kept tail must start right after the snapshot
    expect(sockets[1]?.closedWith).toBe(4000);
    expect(socket.lastSeq).toBe(200);
  });

  it('resumes in the epoch the hub named, and starts over when the hub resets it', () => {
    let resets = 0;
    const { socket, sockets, last, events } = setup({
      url: (after, epoch) => `ws://hub/ws/sessions/s1?after=${after}${epoch === null ? '' : `&epoch=${epoch}`}`,
      handlers: { event: (e) => events.push(e), reset: () => { resets += 1; } },
    });
    socket.start();
    expect(sockets[0]?.url).toMatch(/after=0$/);
    last().open();
    last().frame({ type: 'replay_start', after: 0, last_seq: 5, epoch: 'E1', reset: false });
    for (const e of range(1, 5)) last().frame(e);
    last().frame({ type: 'replay_complete', last_seq: 5 });
    expect(socket.epoch).toBe('E1');
    last().serverClose(1012);
    vi.advanceTimersByTime(500);
    expect(sockets[1]?.url).toMatch(/after=5&epoch=E1$/);
    // The store lost events 4 and 5 and numbered new ones from 4: all of it comes again.
    last().open();
    last().frame({ type: 'replay_start', after: 0, last_seq: 4, epoch: 'E2', reset: true });
    expect(resets).toBe(1);
    expect(socket.lastSeq).toBe(0);
    for (const e of range(1, 4)) last().frame(e);
    last().frame({ type: 'replay_complete', last_seq: 4 });
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4]);
    expect(socket.epoch).toBe('E2');
    last().serverClose(1012);
    vi.advanceTimersByTime(500);
    expect(sockets[2]?.url).toMatch(/after=4&epoch=E2$/);
  });

  it('starts from a given cursor', () => {
    const { socket, sockets } = setup({ after: 12 });
    socket.start();
    expect(sockets[0]?.url).toMatch(/after=12$/);
  });
});

describe('SessionSocket send queue', () => {
  it('queues frames while disconnected and sends them, in order, on connect', () => {
    const { socket, last } = setup();
    socket.start();
    const a = socket.send({ type: 'confirm', request_id: 'r1', value: true });
    const b = socket.send({ type: 'cancel' });
    expect(last().sent).toEqual([]);
    last().open();
    expect(last().sent.map((s) => JSON.parse(s) as unknown)).toEqual([
      { type: 'confirm', request_id: 'r1', value: true, ref: a },
      { type: 'cancel', ref: b },
    ]);
    expect(a).not.toBe(b);
  });

  it('keeps at most maxQueue frames, dropping the oldest', () => {
    const { socket, dropped, last } = setup({ maxQueue: 2 });
    socket.start();
    socket.send({ type: 'ping', ref: 'one' });
    socket.send({ type: 'ping', ref: 'two' });
    socket.send({ type: 'ping', ref: 'three' });
    expect(dropped).toEqual([{ type: 'ping', ref: 'one' }]);
    expect(socket.queued.map((f) => f.ref)).toEqual(['two', 'three']);
    last().open();
    expect(last().sent).toHaveLength(2);
  });

  it('sends at once while connected', () => {
    const { socket, last } = setup();
    socket.start();
    last().replay(0, []);
    socket.send({ type: 'user_input', request_id: 'r', values: { a: 1 } });
    expect(last().sent).toHaveLength(1);
  });
});

describe('SessionSocket heartbeat', () => {
  it('pings when idle and reconnects when the ping goes unanswered', () => {
    const { socket, sockets, last } = setup({ heartbeatMs: 1000 });
    socket.start();
    last().replay(0, []);
    vi.advanceTimersByTime(1000);
    expect(last().sent.map((s) => JSON.parse(s) as unknown)).toEqual([{ type: 'ping' }]);
    vi.advanceTimersByTime(1000);
    expect(sockets[0]?.closedWith).toBe(4000);
    expect(socket.state.phase).toBe('waiting');
  });
});
