"""``GET /api/audit``: the audit log for admins, newest first, paged and filtered.

Translation only: :class:`~tether.audit.Audit` and the store do the reading.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api import int_param, json_response
from tether.audit import MAX_FILTER, MAX_LIMIT, Audit, AuditQuery, valid_cursor
from tether.errors import Forbidden, InvalidQuery, NotAuthenticated
from tether.principal import Principal


def _filter(request: Request, name: str) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and len(value) > MAX_FILTER:
        raise InvalidQuery(f"{name!r} is over {MAX_FILTER} characters.", fields={name: value[:40]})
    return value


def query_of(request: Request) -> AuditQuery:
    """The :class:`AuditQuery` a request's parameters spell; ``InvalidQuery`` if bad."""
    before = request.query_params.get("before") or None
    if before is not None and not valid_cursor(before):
        raise InvalidQuery("'before' is the 'next' of a previous page.",
                           fields={"before": before[:40]})
    return AuditQuery(
        limit=int_param(request, "limit", 50, 1, MAX_LIMIT), before=before,
        action=_filter(request, "action"), session=_filter(request, "session"),
        user=_filter(request, "user"),
    )


async def read_audit(request: Request) -> Response:
    principal: Principal | None = request.state.principal
    if principal is None:
        raise NotAuthenticated()
    if not principal.is_admin:
        raise Forbidden("Only admins may read the audit log.")
    audit: Audit = request.state.audit
    return json_response(await audit.page(query_of(request)))


def routes() -> list[Route]:
    return [Route("/api/audit", read_audit, methods=["GET"])]
