// A reconnecting WebSocket for one session, with no React in it (after partysocket's ws.ts).
//
// Invariants:
// - `lastSeq` is the seq of the last event delivered; an event is delivered at most once,
//   and only when it is the next one (seq = lastSeq + 1) or a snapshot. A snapshot stands
//   in for events the hub no longer keeps: the cursor moves to its seq (just before the
//   oldest kept event), and the kept events follow it from seq + 1 as usual.
// - Every (re)connect asks for `after=lastSeq` (and `epoch=`, the log's epoch the hub
//   named last), so the hub replays exactly what is missing.
// - A `replay_start` with `reset` says the events delivered so far are void (the hub's
//   store lost some of them: PROTOCOL.md §4, "Epochs"): the cursor goes back to the
//   frame's `after` (0), `reset` is called, and the log is delivered again from there.
// - A gap (an event past lastSeq + 1) is a broken promise of the hub: the socket drops the
//   connection and resumes from the cursor rather than deliver a hole.
import type { Event, OutgoingFrame, ServerFrame } from '../protocol';
import { CloseCode, isEvent, parseServerMessage } from '../protocol';

export type ConnectionState =
  | { phase: 'connecting'; attempt: number; silent: boolean }
  | { phase: 'replaying' }
  | { phase: 'open' }
  | { phase: 'waiting'; attempt: number; retryAt: number; code: number }
  /** `message`: the hub's close reason, for people (say, why a session is gone). */
  | { phase: 'closed'; reason: 'not_found' | 'not_authenticated' | 'stopped'; message?: string };

/** The part of the browser's WebSocket this class uses (so tests can pass a fake). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface SocketHandlers {
  /** A new event, in seq order, never twice. */
  event?: (event: Event) => void;
  /** A control frame: replay_start, replay_complete, ack, error, pong. */
  control?: (frame: ServerFrame) => void;
  /** The connection's phase changed. */
  state?: (state: ConnectionState) => void;
  /** The events delivered so far are void: the log comes again from its start. */
  reset?: () => void;
  /** The connection dropped: frames sent on it and not yet acknowledged may be lost. */
  disconnect?: () => void;
  /** The send queue was full and this frame, the oldest, was dropped unsent. */
  dropped?: (frame: OutgoingFrame) => void;
}

export interface SocketOptions {
  /** The URL to (re)connect to, resuming after `after` of the log's `epoch` (null while
   * no hub has named one). */
  url: (after: number, epoch: string | null) => string;
  handlers: SocketHandlers;
  createSocket?: WebSocketFactory;
  /** The cursor to start from: events with seq <= after are not asked for. */
  after?: number;
  /** The epoch `after` counts in, if known. */
  epoch?: string | null;
  minDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** 0..1: a delay is drawn from [d·(1 − jitter), d]. */
  jitter?: number;
  random?: () => number;
  /** Frames kept while disconnected; past this the oldest is dropped. */
  maxQueue?: number;
  connectTimeoutMs?: number;
  /** Send a ping after this long without a message, and give up on the connection if
   * nothing comes back within the same time. 0 turns it off. */
  heartbeatMs?: number;
}

const OPEN = 1;
/** Close codes after which reconnecting cannot help. */
const FINAL_CODES: Partial<Record<number, 'not_found' | 'not_authenticated'>> = {
  [CloseCode.UNKNOWN_SESSION]: 'not_found',
  [CloseCode.NOT_AUTHENTICATED]: 'not_authenticated',
};
/** The app's own code (not the hub's) when it gives up on a connection and makes a new one. */
const DROPPED = 4000;

export class SessionSocket {
  private readonly opts: Required<Omit<SocketOptions, 'after' | 'epoch'>>;
  private ws: WebSocketLike | null = null;
  private cursor: number;
  private logEpoch: string | null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  private awaitingPong = false;
  private queue: OutgoingFrame[] = [];
  private refCounter = 0;
  private stopped = false;
  private current: ConnectionState = { phase: 'connecting', attempt: 0, silent: false };

  constructor(options: SocketOptions) {
    this.opts = {
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      minDelayMs: 500,
      maxDelayMs: 15_000,
      factor: 2,
      jitter: 0.5,
      random: Math.random,
      maxQueue: 32,
      connectTimeoutMs: 10_000,
      heartbeatMs: 25_000,
      ...options,
    };
    this.cursor = options.after ?? 0;
    this.logEpoch = options.epoch ?? null;
  }

  /** The seq of the last event delivered (the resume cursor). */
  get lastSeq(): number {
    return this.cursor;
  }

  /** The epoch of the log the cursor counts in, as the hub last named it. */
  get epoch(): string | null {
    return this.logEpoch;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Frames waiting for a connection. */
  get queued(): readonly OutgoingFrame[] {
    return this.queue;
  }

  start(): void {
    this.stopped = false;
    this.connect(false);
  }

  /** Close for good (no reconnect). */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.detach(CloseCode.NORMAL_CLOSURE, 'done');
    this.setState({ phase: 'closed', reason: 'stopped' });
  }

  /** Skip the rest of a backoff wait (e.g. when the browser comes back online). */
  reconnectNow(): void {
    if (this.current.phase === 'waiting') {
      this.clearTimers();
      this.connect(false);
    }
  }

  /** The delay before reconnect attempt `attempt` (1-based): capped exponential, jittered. */
  backoffDelay(attempt: number): number {
    const { minDelayMs, maxDelayMs, factor, jitter, random } = this.opts;
    const base = Math.min(maxDelayMs, minDelayMs * factor ** Math.max(0, attempt - 1));
    return Math.round(base * (1 - jitter * random()));
  }

  /** Send a frame now, or queue it until the next connection. Returns its `ref`. */
  send(frame: OutgoingFrame): string {
    const ref = frame.ref ?? `c${++this.refCounter}`;
    const withRef: OutgoingFrame = { ...frame, ref };
    if (this.ws !== null && this.ws.readyState === OPEN && this.current.phase !== 'connecting') {
      this.ws.send(JSON.stringify(withRef));
    } else {
      this.queue.push(withRef);
      while (this.queue.length > this.opts.maxQueue) {
        const dropped = this.queue.shift();
        if (dropped !== undefined) this.opts.handlers.dropped?.(dropped);
      }
    }
    return ref;
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    this.opts.handlers.state?.(state);
  }

  private connect(silent: boolean): void {
    if (this.stopped) return;
    this.setState({ phase: 'connecting', attempt: this.attempt, silent });
    let ws: WebSocketLike;
    try {
      ws = this.opts.createSocket(this.opts.url(this.cursor, this.logEpoch));
    } catch {
      this.scheduleReconnect(CloseCode.ABNORMAL_CLOSURE);
      return;
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (this.ws === ws && this.current.phase === 'connecting') this.drop(ws, DROPPED, 'connect timeout');
    }, this.opts.connectTimeoutMs);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.clearConnectTimer();
      this.setState({ phase: 'replaying' });
      this.flushQueue(ws);
      this.armHeartbeat();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      this.armHeartbeat();
      this.receive(ws, ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.closed(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event always follows; that is where the reconnect is decided.
    };
  }

  private receive(ws: WebSocketLike, text: string): void {
    const message = parseServerMessage(text);
    if (message === null) return;
    if (!isEvent(message)) {
      if (message.type === 'replay_complete') {
        this.attempt = 0; // a connection that got this far counts as a success
        this.setState({ phase: 'open' });
      } else if (message.type === 'replay_start') {
        this.setState({ phase: 'replaying' });
        if (typeof message.epoch === 'string') this.logEpoch = message.epoch;
        if (message.reset === true) {
          this.cursor = message.after;
          this.opts.handlers.reset?.();
        }
      }
      this.awaitingPong = false;
      this.opts.handlers.control?.(message);
      return;
    }
    if (message.type === 'snapshot') {
      if (message.seq < this.cursor) return;
    } else if (message.seq <= this.cursor) {
      return; // already delivered: a replay overlapping what we hold
    } else if (message.seq !== this.cursor + 1) {
      this.drop(ws, DROPPED, `gap: expected ${this.cursor + 1}, got ${message.seq}`);
      return;
    }
    this.cursor = message.seq;
    this.opts.handlers.event?.(message);
  }

  private flushQueue(ws: WebSocketLike): void {
    const pending = this.queue;
    this.queue = [];
    for (const frame of pending) ws.send(JSON.stringify(frame));
  }

  private armHeartbeat(): void {
    if (this.opts.heartbeatMs <= 0) return;
    if (this.heartbeatTimer !== null) clearTimeout(this.heartbeatTimer);
    this.awaitingPong = false;
    this.heartbeatTimer = setTimeout(() => this.beat(), this.opts.heartbeatMs);
  }

  private beat(): void {
    const ws = this.ws;
    if (ws === null) return;
    if (this.awaitingPong) {
      this.drop(ws, DROPPED, 'no answer to ping');
      return;
    }
    this.awaitingPong = true;
    ws.send(JSON.stringify({ type: 'ping' }));
    this.heartbeatTimer = setTimeout(() => this.beat(), this.opts.heartbeatMs);
  }

  /** Give up on `ws` ourselves and resume on a fresh connection. */
  private drop(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.detach(code, reason);
    this.closed(CloseCode.ABNORMAL_CLOSURE);
  }

  private detach(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    if (ws === null) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  private closed(code: number, reason = ''): void {
    this.ws = null;
    this.clearTimers();
    this.opts.handlers.disconnect?.();
    if (this.stopped) return;
    const final = FINAL_CODES[code];
    if (final !== undefined) {
      this.stopped = true;
      this.setState(reason ? { phase: 'closed', reason: final, message: reason } : { phase: 'closed', reason: final });
      return;
    }
    if (code === CloseCode.TOO_SLOW && this.attempt === 0) {
      // We read too slowly once: resume at once, without alarming anyone.
      this.attempt = 1;
      this.connect(true);
      return;
    }
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code: number): void {
    this.attempt += 1;
    const delay = this.backoffDelay(this.attempt);
    this.setState({ phase: 'waiting', attempt: this.attempt, retryAt: Date.now() + delay, code });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect(false);
    }, delay);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private clearTimers(): void {
    this.clearConnectTimer();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.heartbeatTimer !== null) clearTimeout(this.heartbeatTimer);
    this.retryTimer = this.heartbeatTimer = null;
  }
}
