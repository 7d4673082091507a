"""Every error Tether raises on purpose, and how each one reaches a client.

The tree::

    TetherError                      500 internal_error
    ├── NotAuthenticated             401 not_authenticated      (WS close 4401)
    ├── InvalidCredentials           401 invalid_credentials    (POST /api/login)
    ├── TooManyAttempts              429 too_many_attempts      (with Retry-After)
    ├── OidcDisabled                 404 oidc_disabled          (no OpenID provider set)
    ├── OidcLoginFailed              400 oidc_login_failed      (carries a ``reason``; the
    │                                                            callback redirects to /login)
    ├── InvalidHeader                400 invalid_header         (WS close 1008)
    ├── InvalidHost                  400 invalid_host           (WS close 1008)
    ├── UnknownTask                  404 unknown_task
    ├── UnknownSession               404 unknown_session        (WS close 4404)
    ├── UnknownRequest               404 unknown_request        (WS error frame)
    ├── InvalidInputs                422 invalid_inputs         (carries field errors)
    ├── InvalidValue                 422 invalid_value          (field errors; WS error frame)
    ├── InvalidMessage               422 invalid_message        (WS error frame)
    │   └── LoneSurrogate            a string holds an unpaired UTF-16 surrogate escape
    ├── InvalidJson                  400 invalid_json           (WS error frame)
    ├── InvalidQuery                 422 invalid_query          (bad query parameters)
    ├── PayloadTooLarge              413 payload_too_large
    ├── UnsupportedMediaType         415 unsupported_media_type (a write's body is not JSON)
    ├── CrossSiteRequest             403 cross_site_request     (a write from another site)
    ├── Forbidden                    403 forbidden              (WS error frame)
    ├── UnknownShare                 404 unknown_share
    ├── UnknownLink                  404 unknown_link
    ├── UnknownWebhook               404 unknown_webhook
    ├── UnknownNotification          404 unknown_notification   (not in a delivery log)
    ├── IdempotencyKeyReused         422 idempotency_key_reused
    ├── TooManyOpenSessions          429 too_many_open_sessions (TETHER_MAX_OPEN_SESSIONS)
    ├── TooManyStarts                429 too_many_starts        (with Retry-After)
    ├── UnknownLink                  404 unknown_link           (a share or answer link)
    ├── AnswerLinkUsed               409 link_used              (an answer link, used once)
    ├── AnswerLinkExpired            410 link_expired
    ├── AlreadyAnswered              409 already_answered       (WS error frame)
    ├── AlreadyFinished              409 already_finished
    ├── SessionFinished              409 session_finished       (WS error frame)
    ├── StoreUnavailable             503 store_unavailable      (WS close 1013)
    ├── LeaseLost                    raised inside a runner whose session another hub took over
    ├── Nondeterminism               a resumed task no longer makes its recorded calls
    ├── RequestTimedOut              a request expired and the task gave no default
    ├── SealBroken                   a secret answer sealed with another hub secret
    ├── ExecutorUnavailable          ``executor="ray"`` on a hub without TETHER_RAY_ADDRESS
    │                                (or without the ray package, or its cluster unreachable)
    ├── NotImportable                a function for an executor is not module-level (also a
    │                                TypeError)
    └── WorkerDied                   a Ray task ended without a result or an exception of its
                                     own (its worker was killed, its node died); a step failure

Each subclass carries the data that names what went wrong (``UnknownSession(session_id)``)
and class attributes for its HTTP status, error ``code`` and, where a WebSocket ends with
it, ``close_code``; ``envelope.py`` turns one into what a client receives, and ``api.py``
and ``ws.py`` only translate, they never invent codes of their own.
"""

from __future__ import annotations

import math
from typing import ClassVar

from tether.closecodes import CloseCode

FieldErrors = dict[str, str]


class TetherError(Exception):
    """Root of every error Tether raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    close_code: ClassVar[CloseCode] = CloseCode.INTERNAL_ERROR

    def __init__(self, message: str, *, fields: FieldErrors | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with this error's answer."""
        return {}


class NotAuthenticated(TetherError):
    status = 401
    code = "not_authenticated"
    close_code = CloseCode.NOT_AUTHENTICATED

    def __init__(self) -> None:
        super().__init__("This request carries no valid user identity.")


class InvalidCredentials(TetherError):
    """A login with an unknown name or a wrong password: one answer for both."""

    status = 401
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("The user name or the password is not right.")


class TooManyAttempts(TetherError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(f"Too many failed logins; try again in {self.retry_after} s.")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class OidcDisabled(TetherError):
    status = 404
    code = "oidc_disabled"

    def __init__(self) -> None:
        super().__init__("This hub has no OpenID Connect provider (TETHER_OIDC_ISSUER).")


class OidcLoginFailed(TetherError):
    """An OpenID Connect login that cannot finish.

    ``reason`` is one of :data:`OIDC_REASONS`; it is what the login page is told (the
    message, which may quote the provider, goes only to the hub's log).
    """

    status = 400
    code = "oidc_login_failed"

    def __init__(self, reason: str, message: str) -> None:
        if reason not in OIDC_REASONS:
            raise ValueError(f"unknown OpenID login failure reason {reason!r}")
        super().__init__(message)
        self.reason = reason


OIDC_REASONS = frozenset({
    "state",        # no, a forged, an expired or an already spent login state
    "provider",     # the provider answered with an error (the person declined, ...)
    "token",        # the code exchange failed, or the ID token did not verify
    "account",      # no usable user name, or the name belongs to another account
    "unavailable",  # the provider cannot be reached, or its discovery document is wrong
})


class InvalidHeader(TetherError):
    status = 400
    code = "invalid_header"
    close_code = CloseCode.POLICY_VIOLATION


class InvalidHost(TetherError):
    status = 400
    code = "invalid_host"
    close_code = CloseCode.POLICY_VIOLATION

    def __init__(self, host: str) -> None:
        super().__init__(f"This hub does not answer for host {host!r}.")
        self.host = host


class UnknownTask(TetherError):
    status = 404
    code = "unknown_task"

    def __init__(self, task: str) -> None:
        super().__init__(f"No task is named {task!r}.")
        self.task = task


class UnknownSession(TetherError):
    status = 404
    code = "unknown_session"
    close_code = CloseCode.UNKNOWN_SESSION

    def __init__(self, session_id: str, detail: str | None = None) -> None:
        super().__init__(detail or f"No session {session_id!r} exists for this user.")
        self.session_id = session_id


class UnknownRequest(TetherError):
    status = 404
    code = "unknown_request"

    def __init__(self, request_id: str | None, detail: str | None = None) -> None:
        super().__init__(detail or f"No open request {request_id!r} in this session.")
        self.request_id = request_id


class InvalidInputs(TetherError):
    status = 422
    code = "invalid_inputs"

    def __init__(self, fields: FieldErrors) -> None:
        super().__init__("The task's inputs are not valid.", fields=fields)


class InvalidValue(TetherError):
    status = 422
    code = "invalid_value"

    def __init__(self, fields: FieldErrors, message: str = "The answer is not valid.") -> None:
        super().__init__(message, fields=fields)


class InvalidMessage(TetherError):
    status = 422
    code = "invalid_message"


class LoneSurrogate(InvalidMessage):
    """JSON whose string spells half a surrogate pair (``"\\ud800"``): not text, and
    not sendable on as UTF-8 (see :mod:`tether.jsontext`)."""

    def __init__(self) -> None:
        super().__init__(
            "A string holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape); "
            "it is not text."
        )


class InvalidJson(TetherError):
    status = 400
    code = "invalid_json"

    def __init__(self, detail: str) -> None:
        super().__init__(f"The body is not valid JSON: {detail}")


class InvalidQuery(TetherError):
    status = 422
    code = "invalid_query"


class PayloadTooLarge(TetherError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(TetherError):
    status = 415
    code = "unsupported_media_type"

    def __init__(self, content_type: str | None) -> None:
        given = f"not {content_type!r}" if content_type else "and must say so"
        super().__init__(f"A request body is JSON: Content-Type: application/json, {given}.")
        self.content_type = content_type


class CrossSiteRequest(TetherError):
    status = 403
    code = "cross_site_request"

    def __init__(self, origin: str | None) -> None:
        source = f"from {origin!r}" if origin else "from another site"
        super().__init__(
            f"Writes {source} are refused: only this hub's own pages and the origins in "
            "TETHER_ALLOWED_ORIGINS may change sessions with the browser's cookie."
        )
        self.origin = origin


class Forbidden(TetherError):
    """The caller is known but may not do this: a viewer answering, anyone but an assignee
    (or an admin) answering an assigned request, a member cancelling a session shared with
    them, a share link writing anything, a non-admin reading the audit log. Where merely
    knowing that a thing exists would tell too much, the hub answers 404 instead
    (``UnknownSession``)."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str = "You may not do this.") -> None:
        super().__init__(message)


class UnknownShare(TetherError):
    status = 404
    code = "unknown_share"


class NotSignedIn(TetherError):
    """An answer link used without its person signed in, on a hub whose policy asks for
    it (``TETHER_ANSWER_LINK_LOGIN=required``)."""

    status = 401
    code = "not_signed_in"

    def __init__(self, person: str) -> None:
        super().__init__(
            f"This hub asks you to sign in as {person} before answering by link; "
            "sign in, then open the link again."
        )


class UnknownLink(TetherError):
    status = 404
    code = "unknown_link"


class AnswerLinkUsed(TetherError):
    """An answer link (``answer_links.py``) that already answered: each works once."""

    status = 409
    code = "link_used"

    def __init__(self) -> None:
        super().__init__("This answer link was already used; each link answers once.")


class AnswerLinkExpired(TetherError):
    status = 410
    code = "link_expired"

    def __init__(self, expired_at: str) -> None:
        super().__init__(f"This answer link expired at {expired_at}.")
        self.expired_at = expired_at


class UnknownWebhook(TetherError):
    status = 404
    code = "unknown_webhook"


class UnknownNotification(TetherError):
    """A redelivery of a notification the webhook's delivery log does not hold."""

    status = 404
    code = "unknown_notification"


class TooManyOpenSessions(TetherError):
    status = 429
    code = "too_many_open_sessions"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You have {limit} sessions open, the most this hub allows: finish or cancel "
            "one first."
        )
        self.limit = limit


class TooManyStarts(TetherError):
    status = 429
    code = "too_many_starts"

    def __init__(self, limit: int, retry_after: float) -> None:
        super().__init__(
            f"You started {limit} sessions in the last minute, the most this hub allows; "
            f"try again in {max(1, round(retry_after))} s."
        )
        self.limit = limit
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class IdempotencyKeyReused(TetherError):
    status = 422
    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request.")
        self.key = key


class AlreadyAnswered(TetherError):
    status = 409
    code = "already_answered"

    def __init__(self, request_id: str) -> None:
        super().__init__(f"Request {request_id!r} was already answered.")
        self.request_id = request_id


class AlreadyFinished(TetherError):
    status = 409
    code = "already_finished"

    def __init__(self, session_id: str, status: str) -> None:
        super().__init__(f"Session {session_id!r} already finished ({status}).")
        self.session_id = session_id


class SessionFinished(TetherError):
    status = 409
    code = "session_finished"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"Session {session_id!r} has finished; it takes no more answers.")
        self.session_id = session_id


class StoreUnavailable(TetherError):
    status = 503
    code = "store_unavailable"
    close_code = CloseCode.TRY_AGAIN_LATER


class LeaseLost(TetherError):
    """The session's record says another runner owns it; this runner must stop writing."""

    code = "lease_lost"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"This hub no longer owns session {session_id!r}.")
        self.session_id = session_id


class Nondeterminism(TetherError):
    """A resumed task made a call that its journal did not record at that place."""

    code = "nondeterminism"

    def __init__(self, key: str, expected: str, got: str, versions: str = "") -> None:
        super().__init__(
            f"The task no longer matches its journal at {key}: recorded {expected}, "
            f"now {got}.{versions}"
        )
        self.key = key
        self.expected = expected
        self.got = got


class RequestTimedOut(TetherError):
    """A request expired and the task gave no ``default``."""

    code = "request_timed_out"

    def __init__(self, request_id: str, prompt: str) -> None:
        super().__init__(f"Nobody answered {prompt!r} in time (request {request_id}).")
        self.request_id = request_id


class SealBroken(TetherError):
    """A sealed answer cannot be opened: the hub's secret is not the one it was sealed
    with (``TETHER_SECRET`` differs between hubs), or the stored token was altered."""

    code = "seal_broken"

    def __init__(self) -> None:
        super().__init__(
            "A secret answer cannot be opened with this hub's secret; every hub of a "
            "store must share TETHER_SECRET."
        )


class ExecutorUnavailable(TetherError):
    """``executor=NAME`` was asked for and this hub cannot offer it; ``reason`` says why
    (``TETHER_RAY_ADDRESS`` unset, the ``ray`` package missing, the cluster unreachable)."""

    code = "executor_unavailable"

    def __init__(self, executor: str, reason: str) -> None:
        super().__init__(f"The {executor!r} executor is unavailable: {reason}")
        self.executor = executor
        self.reason = reason


class NotImportable(TetherError, TypeError):
    """A function handed to an executor cannot be imported by name where it will run: a
    lambda, a function defined inside another, a method, a callable object, ``__main__``."""

    code = "not_importable"

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(
            f"{function} cannot run on an executor: {reason}. Define it at the top level of a "
            "module that the cluster's workers can import, and pass what it needs as arguments."
        )
        self.function = function
        self.reason = reason


class WorkerDied(TetherError):
    """A task sent to an executor ended without a result and without an exception of its
    own: its worker process was killed, its node died, it ran out of memory. A step
    failure like any other (retried or offered for retry as the step's ``Retry`` says)."""

    code = "worker_died"
