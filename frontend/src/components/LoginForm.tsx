import { type FormEvent, useEffect, useState } from 'react';
import type { Me, OidcInfo } from '../protocol';
import { ApiError, api } from '../lib/api';
import { nextFromSearch } from '../lib/answerLink';

/** What the login page says when the hub sent the browser back from an OpenID login
 * (`/login?oidc_error=REASON`, PROTOCOL.md §3). The details are in the hub's log. */
const OIDC_ERRORS: Readonly<Record<string, string>> = {
  state: 'That sign-in link expired or was already used. Please sign in again.',
  provider: 'The sign-in was cancelled or refused at the provider.',
  token: 'The provider’s answer could not be verified. Please sign in again.',
  account: 'Your provider account cannot be used here: its user name belongs to another account.',
  unavailable: 'The sign-in provider cannot be reached right now. Try again later.',
};

function oidcError(search: string): string | null {
  const reason = new URLSearchParams(search).get('oidc_error');
  if (reason === null) return null;
  return OIDC_ERRORS[reason] ?? 'The sign-in failed. Please try again.';
}

/** The provider's login, told to come back to this page's `next` (the hub checks it too). */
function oidcHref(loginUrl: string): string {
  const next = nextFromSearch(window.location.search);
  return next === null ? loginUrl : `${loginUrl}${loginUrl.includes('?') ? '&' : '?'}${new URLSearchParams({ next }).toString()}`;
}

/** The login page of accounts mode: "Sign in with <provider>" when the hub has one, and
 * a name and a password. `?next=/path` (a page of this app) is where either returns. */
export function LoginForm({ onLoggedIn }: { onLoggedIn: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(() => oidcError(window.location.search));
  const [busy, setBusy] = useState(false);
  const [oidc, setOidc] = useState<OidcInfo | null>(null);

  useEffect(() => {
    api.authInfo().then((info) => setOidc(info.oidc ?? null), () => undefined);
  }, []);

  const submit = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    api.login(username, password).then(
      (me) => {
        setPassword('');
        onLoggedIn(me);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err instanceof ApiError ? err.message : 'The login failed.');
      },
    );
  };

  return (
    <section className="narrow">
      <h1>Log in</h1>
      {error && <p className="form-error" role="alert">{error}</p>}
      {oidc && (
        <p className="form-actions">
          {/* A navigation, not a fetch: the provider's pages take over the tab. */}
          <a className="button primary" href={oidcHref(oidc.login_url)}>Sign in with {oidc.name}</a>
        </p>
      )}
      <form className="form" onSubmit={submit} aria-label="Log in">
        <label className="field">
          <span className="field-label">User name</span>
          <input name="username" autoComplete="username" required value={username}
            onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Password</span>
          <input name="password" type="password" autoComplete="current-password" required value={password}
            onChange={(e) => setPassword(e.target.value)} />
        </label>
        <button type="submit" className={oidc ? 'button' : 'button primary'} disabled={busy}>Log in</button>
      </form>
    </section>
  );
}
