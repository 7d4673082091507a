import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import type { LinkCreated, LinkInfo, ShareInfo, ShareRole } from '../protocol';
import { ApiError, api } from '../lib/api';
import { useNow } from '../lib/hooks';
import { age, formatDuration } from '../lib/time';
import { problemText } from '../session/refusals';
import { LINK_EXPIRIES, linkAddress } from '../sharing/linkExpiry';
import { parseShareTarget, targetLabel } from '../sharing/targets';

/** The hub's refusal or failure, for people. */
function messageOf(error: unknown, fallback: string): string {
  return error instanceof ApiError ? problemText(error.code, error.message, 'share', fallback) : fallback;
}

/** Who can see this session: its shares (people and groups, each a viewer or an
 * answerer) and its read-only links. For the owner and admins. */
export function ShareDialog({ sessionId, onClose }: { sessionId: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog?.showModal();
    return () => {
      dialog?.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog ref={ref} className="dialog share-dialog" aria-labelledby="share-title" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <h2 id="share-title">Share this session</h2>
      <Shares sessionId={sessionId} />
      <Links sessionId={sessionId} />
      <div className="form-actions">
        <button type="button" className="button" onClick={onClose}>Done</button>
      </div>
    </dialog>
  );
}

function Shares({ sessionId }: { sessionId: string }) {
  const [shares, setShares] = useState<ShareInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [target, setTarget] = useState('');
  const [role, setRole] = useState<ShareRole>('viewer');
  const [targetError, setTargetError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    api.shares(sessionId).then(
      (list) => {
        setShares(list);
        setError(null);
      },
      (e: unknown) => setError(messageOf(e, 'Could not load the shares.')),
    );
  }, [sessionId]);
  useEffect(load, [load]);

  const add = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    const parsed = parseShareTarget(target);
    if (!parsed.ok) {
      setTargetError(parsed.message);
      return;
    }
    setTargetError(null);
    setBusy(true);
    api.share(sessionId, parsed.with, role).then(
      () => {
        setTarget('');
        setError(null);
        load();
      },
      (err: unknown) => setError(messageOf(err, 'Could not share the session.')),
    ).finally(() => setBusy(false));
  };

  const remove = (share: ShareInfo): void => {
    api.unshare(sessionId, share.with).then(
      () => load(),
      (err: unknown) => setError(messageOf(err, 'Could not remove the share.')),
    );
  };

  return (
    <section className="share-section" aria-labelledby="shares-title">
      <h3 id="shares-title">People and groups</h3>
      {error && <p className="form-error" role="alert">{error}</p>}
      {shares === null && !error && <p className="muted">Loading…</p>}
      {shares !== null && shares.length === 0 && <p className="muted">Shared with nobody yet.</p>}
      {shares !== null && shares.length > 0 && (
        <ul className="share-list">
          {shares.map((s) => (
            <li key={s.with} className="share-item" data-share={s.with}>
              <span className="share-target">{targetLabel(s.with)}</span>
              <span className="badge">{s.role === 'answerer' ? 'can answer' : 'can watch'}</span>
              <button type="button" className="button small danger-ghost push-right" onClick={() => remove(s)} aria-label={`Stop sharing with ${targetLabel(s.with)}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="share-form" onSubmit={add} aria-label="Add a share" noValidate>
        <label className={targetError ? 'field has-error' : 'field'}>
          <span className="field-label">Share with</span>
          <input name="with" placeholder="bob or group:finance" value={target} autoComplete="off"
            aria-invalid={targetError !== null} aria-describedby={targetError ? 'share-with-error' : undefined}
            onChange={(e) => setTarget(e.target.value)} />
          {targetError && <p className="field-error" id="share-with-error">{targetError}</p>}
        </label>
        <label className="field">
          <span className="field-label">Role</span>
          <select name="role" value={role} onChange={(e) => setRole(e.target.value as ShareRole)}>
            <option value="viewer">Viewer: can watch</option>
            <option value="answerer">Answerer: can watch and answer</option>
          </select>
        </label>
        <button type="submit" className="button primary" disabled={busy}>{busy ? 'Sharing…' : 'Share'}</button>
      </form>
    </section>
  );
}

function Links({ sessionId }: { sessionId: string }) {
  const [links, setLinks] = useState<LinkInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [expiresIn, setExpiresIn] = useState(LINK_EXPIRIES[1]?.seconds ?? 86_400);
  const [created, setCreated] = useState<LinkCreated | null>(null);
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const [busy, setBusy] = useState(false);
  const now = useNow(links !== null && links.length > 0, 30_000);

  const load = useCallback(() => {
    api.links(sessionId).then(
      (list) => {
        setLinks(list);
        setError(null);
      },
      (e: unknown) => setError(messageOf(e, 'Could not load the links.')),
    );
  }, [sessionId]);
  useEffect(load, [load]);

  const create = (): void => {
    setBusy(true);
    setCopied(null);
    api.createLink(sessionId, expiresIn).then(
      (link) => {
        setCreated(link);
        setError(null);
        load();
      },
      (e: unknown) => setError(messageOf(e, 'Could not make a link.')),
    ).finally(() => setBusy(false));
  };

  const revoke = (link: LinkInfo): void => {
    api.revokeLink(sessionId, link.id).then(
      () => {
        if (created?.id === link.id) setCreated(null);
        load();
      },
      (e: unknown) => setError(messageOf(e, 'Could not revoke the link.')),
    );
  };

  const address = created ? linkAddress(window.location.origin, created.url) : null;
  const copy = (): void => {
    if (address === null) return;
    navigator.clipboard.writeText(address).then(() => setCopied('yes'), () => setCopied('failed'));
  };

  return (
    <section className="share-section" aria-labelledby="links-title">
      <h3 id="links-title">Read-only links</h3>
      <p className="muted small">Anyone with a link can watch this session live, without an account, until it expires or you revoke it.</p>
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="share-form">
        <label className="field">
          <span className="field-label">Valid for</span>
          <select name="expires_in" value={expiresIn} onChange={(e) => setExpiresIn(Number(e.target.value))}>
            {LINK_EXPIRIES.map((x) => <option key={x.seconds} value={x.seconds}>{x.label}</option>)}
          </select>
        </label>
        <button type="button" className="button" disabled={busy} onClick={create}>{busy ? 'Making…' : 'Create link'}</button>
      </div>
      {address !== null && (
        <div className="new-link">
          <label className="field">
            <span className="field-label">New link (shown only now)</span>
            <input readOnly value={address} data-testid="new-link" onFocus={(e) => e.target.select()} />
          </label>
          <button type="button" className="button small" onClick={copy}>Copy</button>
          <span className="muted small" role="status">
            {copied === 'yes' ? 'Copied.' : copied === 'failed' ? 'Could not copy: select the link and copy it yourself.' : ''}
          </span>
        </div>
      )}
      {links !== null && links.length > 0 && (
        <ul className="share-list">
          {links.map((l) => {
            const left = Date.parse(l.expires_at) - now;
            return (
              <li key={l.id} className="share-item" data-link={l.id}>
                <span>Made {age(l.created_at, now)}</span>
                <span className="muted small" title={new Date(l.expires_at).toLocaleString()}>
                  {left > 0 ? `expires in ${formatDuration(left)}` : 'expired'}
                </span>
                <button type="button" className="button small danger-ghost push-right" onClick={() => revoke(l)}>Revoke</button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
