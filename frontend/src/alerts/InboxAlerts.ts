// Browser notifications for new inbox items, without React: fed each inbox poll, it
// diffs against what this user has seen (seen.ts), remembers the new set and, when the
// user turned them on, shows a Notification per new item (notices.ts).
import type { InboxItem } from '../protocol';
import { type Notice, noticesFor, worthNotifying } from './notices';
import { type Choice, type NotifyState, choiceAfterPrompt, notifyState, readChoice, turnOnNeedsPrompt, writeChoice } from './permission';
import { diffSeen, readSeen, writeSeen } from './seen';

/** The part of the Notification API used here (`window.Notification`). */
export interface NotificationApi {
  readonly permission: NotificationPermission;
  requestPermission(): Promise<NotificationPermission>;
  new (title: string, options?: NotificationOptions): Notification;
}

export interface AlertEnv {
  storage: Storage | null;
  /** null where the browser has none. */
  notifications: NotificationApi | null;
  /** Open an app page (a click on a notification). */
  open: (path: string) => void;
  /** Bring this tab forward (a click on a notification). */
  focus: () => void;
}

export class InboxAlerts {
  // Stand-ins for localStorage when it refuses: this tab still never rings twice.
  private readonly seenHere = new Map<string, string[]>();
  private readonly choiceHere = new Map<string, Choice>();

  constructor(private readonly env: AlertEnv) {}

  state(userId: string): NotifyState {
    return notifyState(this.env.notifications?.permission ?? null, this.choice(userId));
  }

  /** Call from a click: asks the browser first when it has not been asked. */
  async turnOn(userId: string): Promise<NotifyState> {
    const api = this.env.notifications;
    if (api === null) return 'unsupported';
    const state = this.state(userId);
    if (state === 'blocked') return state;
    let choice: Choice = 'on';
    if (turnOnNeedsPrompt(state)) {
      let answer: NotificationPermission = 'default';
      try {
        answer = await api.requestPermission();
      } catch {
        // An old browser's callback-only form, or a refusal to ask: nothing changes.
      }
      choice = choiceAfterPrompt(answer);
    }
    this.remember(userId, choice);
    return this.state(userId);
  }

  turnOff(userId: string): NotifyState {
    this.remember(userId, 'off');
    return this.state(userId);
  }

  /** One inbox poll's items for `userId`: remember them as seen, and notify for the new
   * ones unless their session is `onScreen` (the page showing, in a visible tab).
   * Returns the notices shown. */
  observe(userId: string, items: readonly InboxItem[], onScreen: string | null): Notice[] {
    const before = readSeen(this.env.storage, userId) ?? this.seenHere.get(userId) ?? null;
    const { fresh, seen } = diffSeen(items, before);
    this.seenHere.set(userId, seen);
    writeSeen(this.env.storage, userId, seen);
    if (this.state(userId) !== 'on') return [];
    const notices = noticesFor(worthNotifying(fresh, onScreen));
    return notices.filter((notice) => this.show(notice));
  }

  private show(notice: Notice): boolean {
    const Api = this.env.notifications;
    if (Api === null) return false;
    try {
      const shown = new Api(notice.title, { body: notice.body, tag: notice.tag });
      shown.onclick = (event: Event) => {
        event.preventDefault(); // do not let the browser focus some other tab of ours
        this.env.focus();
        this.env.open(notice.path);
        shown.close();
      };
      return true;
    } catch {
      // Chrome on Android only shows notifications through a service worker.
      return false;
    }
  }

  private choice(userId: string): Choice {
    return readChoice(this.env.storage, userId) ?? this.choiceHere.get(userId) ?? null;
  }

  private remember(userId: string, choice: Choice): void {
    this.choiceHere.set(userId, choice);
    writeChoice(this.env.storage, userId, choice);
  }
}
