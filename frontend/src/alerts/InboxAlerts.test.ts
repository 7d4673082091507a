// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from 'vitest';
import type { InboxItem } from '../protocol';
import { type AlertEnv, InboxAlerts, type NotificationApi } from './InboxAlerts';

const item = (session: string, request: string): InboxItem => ({
  session_id: session, task: 'expense_approval', title: 'Expense approval', owner: 'user:alice',
  opened_at: '2026-01-01T00:00:00.000Z',
  request: { request_id: request, kind: 'confirm', prompt: `Approve ${request}?`, created_at: '2026-01-01T00:00:00.000Z' },
});

/** The browser's Notification as far as the app uses it: a permission, a prompt that
 * answers `answer`, and a constructor that records what it was asked to show. */
function browserNotifications(permission: NotificationPermission, answer: NotificationPermission = permission) {
  const shown: { title: string; options: NotificationOptions | undefined; target: EventTarget & { onclick: ((e: Event) => void) | null; closed: boolean } }[] = [];
  let prompts = 0;
  class Recorded extends EventTarget {
    static permission = permission;
    static requestPermission(): Promise<NotificationPermission> {
      prompts++;
      Recorded.permission = answer;
      return Promise.resolve(answer);
    }
    onclick: ((e: Event) => void) | null = null;
    closed = false;
    constructor(title: string, options?: NotificationOptions) {
      super();
      shown.push({ title, options, target: this });
      this.addEventListener('click', (e) => this.onclick?.(e));
    }
    close(): void {
      this.closed = true;
    }
  }
  return { api: Recorded as unknown as NotificationApi, shown, prompts: () => prompts };
}

function env(notifications: NotificationApi | null, opened: string[] = []): AlertEnv & { focused: number } {
  const e = { storage: localStorage, notifications, open: (p: string) => void opened.push(p), focused: 0, focus: () => void e.focused++ };
  return e;
}

describe('inbox notifications', () => {
  beforeEach(() => localStorage.clear());

  it('ring once for each new request, after the user turned them on', async () => {
    const browser = browserNotifications('default', 'granted');
    const alerts = new InboxAlerts(env(browser.api));
    alerts.observe('user:bob', [], null); // the first look: nothing new by definition
    alerts.observe('user:bob', [item('s1', 'a')], null);
    expect(browser.shown).toEqual([]); // not turned on yet; and 's1/a' is seen now
    expect(alerts.state('user:bob')).toBe('ask');
    expect(await alerts.turnOn('user:bob')).toBe('on');
    expect(browser.prompts()).toBe(1);
    alerts.observe('user:bob', [item('s2', 'b'), item('s1', 'a')], null);
    alerts.observe('user:bob', [item('s2', 'b'), item('s1', 'a')], null);
    expect(browser.shown.map((n) => [n.title, n.options?.body, n.options?.tag])).toEqual([
      ['Expense approval', 'Approve b?', 'tether:s2/b'],
    ]);
  });

  it('remember what was seen across reloads (a new instance), per user', async () => {
    const browser = browserNotifications('granted');
    const first = new InboxAlerts(env(browser.api));
    await first.turnOn('user:bob');
    expect(browser.prompts()).toBe(0); // already allowed: no prompt
    first.observe('user:bob', [item('s1', 'a')], null);
    const again = new InboxAlerts(env(browser.api));
    expect(again.state('user:bob')).toBe('on');
    again.observe('user:bob', [item('s1', 'a')], null);
    expect(browser.shown).toEqual([]);
    expect(again.state('user:carol')).toBe('off');
  });

  it('stay quiet for the session on screen, and still count it seen', async () => {
    const browser = browserNotifications('granted');
    const alerts = new InboxAlerts(env(browser.api));
    await alerts.turnOn('user:bob');
    alerts.observe('user:bob', [], null);
    alerts.observe('user:bob', [item('s1', 'a')], 's1');
    alerts.observe('user:bob', [item('s1', 'a')], null);
    expect(browser.shown).toEqual([]);
  });

  it('open the session and focus the tab on a click', async () => {
    const browser = browserNotifications('granted');
    const opened: string[] = [];
    const e = env(browser.api, opened);
    const alerts = new InboxAlerts(e);
    await alerts.turnOn('user:bob');
    alerts.observe('user:bob', [], null);
    alerts.observe('user:bob', [item('s1', 'a')], null);
    const [notice] = browser.shown;
    notice!.target.dispatchEvent(new Event('click', { cancelable: true }));
    expect(opened).toEqual(['/sessions/s1']);
    expect(e.focused).toBe(1);
    expect(notice!.target.closed).toBe(true);
  });

  it('stop when turned off, and never prompt once the browser said no', async () => {
    const granted = browserNotifications('granted');
    const alerts = new InboxAlerts(env(granted.api));
    await alerts.turnOn('user:bob');
    expect(alerts.turnOff('user:bob')).toBe('off');
    alerts.observe('user:bob', [], null);
    alerts.observe('user:bob', [item('s1', 'a')], null);
    expect(granted.shown).toEqual([]);

    const refused = browserNotifications('default', 'denied');
    const other = new InboxAlerts(env(refused.api));
    expect(await other.turnOn('user:dan')).toBe('blocked');
    expect(await other.turnOn('user:dan')).toBe('blocked');
    expect(refused.prompts()).toBe(1);
    expect(await new InboxAlerts(env(null)).turnOn('user:dan')).toBe('unsupported');
  });

  it('keep the seen set in memory when storage refuses', async () => {
    const browser = browserNotifications('granted');
    const broken: Storage = Object.assign(Object.create(Storage.prototype) as Storage, {
      getItem: () => { throw new Error('denied'); },
      setItem: () => { throw new Error('denied'); },
      removeItem: () => { throw new Error('denied'); },
    });
    const alerts = new InboxAlerts({ ...env(browser.api), storage: broken });
    await alerts.turnOn('user:bob');
    alerts.observe('user:bob', [], null);
    alerts.observe('user:bob', [item('s1', 'a')], null);
    alerts.observe('user:bob', [item('s1', 'a')], null);
    expect(browser.shown).toHaveLength(1);
  });
});
