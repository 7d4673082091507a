// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { choiceAfterPrompt, controlFor, notifyState, readChoice, turnOnNeedsPrompt, writeChoice } from './permission';

describe('the notification permission', () => {
  it('follows the browser first, then the choice made here', () => {
    expect(notifyState(null, 'on')).toBe('unsupported');
    expect(notifyState('denied', 'on')).toBe('blocked');
    expect(notifyState('default', null)).toBe('ask');
    expect(notifyState('default', 'on')).toBe('ask'); // the site's permission was reset
    expect(notifyState('granted', null)).toBe('off'); // allowed, but never turned on here
    expect(notifyState('granted', 'off')).toBe('off');
    expect(notifyState('granted', 'on')).toBe('on');
  });

  it('asks the browser only when it was not asked yet', () => {
    expect(turnOnNeedsPrompt('ask')).toBe(true);
    expect(turnOnNeedsPrompt('off')).toBe(false);
    expect(turnOnNeedsPrompt('blocked')).toBe(false);
  });

  it('remembers the answer to the prompt, and nothing for a dismissed one', () => {
    expect(choiceAfterPrompt('granted')).toBe('on');
    expect(choiceAfterPrompt('denied')).toBe('off');
    expect(choiceAfterPrompt('default')).toBeNull();
    expect(notifyState('default', choiceAfterPrompt('default'))).toBe('ask');
  });

  it('offers the control that fits the state', () => {
    expect(controlFor('ask')).toEqual({ label: 'Turn on notifications', action: 'on' });
    expect(controlFor('off').action).toBe('on');
    expect(controlFor('on')).toEqual({ label: 'Turn off notifications', action: 'off' });
    expect(controlFor('blocked').action).toBeNull();
    expect(controlFor('unsupported').action).toBeNull();
  });

  it('keeps the choice per user', () => {
    localStorage.clear();
    writeChoice(localStorage, 'user:bob', 'on');
    expect(readChoice(localStorage, 'user:bob')).toBe('on');
    expect(readChoice(localStorage, 'user:alice')).toBeNull();
    writeChoice(localStorage, 'user:bob', null);
    expect(readChoice(localStorage, 'user:bob')).toBeNull();
  });
});
