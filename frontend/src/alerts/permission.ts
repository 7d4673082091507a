// Whether the app may notify: the browser's permission and the user's own choice, which
// is remembered per user. Browsers ignore (or hold against the site) permission requests
// that no click caused, so the prompt is only ever shown from the "Turn on" control.
export type BrowserPermission = NotificationPermission; // 'default' | 'granted' | 'denied'

/** The user's choice in this app: null before they made one. */
export type Choice = 'on' | 'off' | null;

/**
 * - `unsupported`: this browser has no Notification API;
 * - `ask`: not asked yet (or the prompt was dismissed): "Turn on" shows the browser's prompt;
 * - `blocked`: the browser said no; only its site settings can change that;
 * - `off`: allowed by the browser, turned off here (or never turned on);
 * - `on`: notifications are shown.
 */
export type NotifyState = 'unsupported' | 'ask' | 'blocked' | 'off' | 'on';

export function notifyState(permission: BrowserPermission | null, choice: Choice): NotifyState {
  if (permission === null) return 'unsupported';
  if (permission === 'denied') return 'blocked';
  if (permission === 'default') return 'ask';
  return choice === 'on' ? 'on' : 'off';
}

/** What "Turn on" does in `state`: show the browser's prompt first, or just turn on. */
export function turnOnNeedsPrompt(state: NotifyState): boolean {
  return state === 'ask';
}

/** The choice to remember once the browser answered the prompt. A dismissed prompt
 * (still `default`) records nothing, so the control offers it again. */
export function choiceAfterPrompt(answer: BrowserPermission): Choice {
  if (answer === 'granted') return 'on';
  if (answer === 'denied') return 'off';
  return null;
}

/** What the control in the Inbox says and does in `state`. */
export function controlFor(state: NotifyState): { label: string; action: 'on' | 'off' | null } {
  switch (state) {
    case 'ask':
    case 'off':
      return { label: 'Turn on notifications', action: 'on' };
    case 'on':
      return { label: 'Turn off notifications', action: 'off' };
    case 'blocked':
      return { label: "Notifications are blocked in this browser's settings for this site", action: null };
    case 'unsupported':
      return { label: 'This browser cannot show notifications', action: null };
  }
}

export function choiceStorageKey(userId: string): string {
  return `tether.notify.${userId}`;
}

export function readChoice(storage: Pick<Storage, 'getItem'> | null, userId: string): Choice {
  try {
    const value = storage?.getItem(choiceStorageKey(userId));
    return value === 'on' || value === 'off' ? value : null;
  } catch {
    return null;
  }
}

export function writeChoice(storage: Pick<Storage, 'setItem' | 'removeItem'> | null, userId: string, choice: Choice): void {
  try {
    if (choice === null) storage?.removeItem(choiceStorageKey(userId));
    else storage?.setItem(choiceStorageKey(userId), choice);
  } catch {
    // Not remembered: the choice holds for this tab only.
  }
}
