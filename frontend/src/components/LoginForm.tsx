import { type FormEvent, useState } from 'react';
import type { Me } from '../protocol';
import { ApiError, api } from '../lib/api';

/** The login page of accounts mode: a name and a password, and the hub's answer. */
export function LoginForm({ onLoggedIn }: { onLoggedIn: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

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
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="button primary" disabled={busy}>Log in</button>
      </form>
    </section>
  );
}
