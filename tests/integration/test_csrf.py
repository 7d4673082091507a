"""Writes that ride on the browser's cookie come from the hub's own pages, or are refused:
a body that is not ``application/json`` gets 415 ``unsupported_media_type``, another
site's ``Origin`` 403 ``cross_site_request`` (docs/PROTOCOL.md §3, "Cross-site writes").

The requests carry the headers a browser sends for each case, to a real hub.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import RunningHub, User, new_user, run_hub
from tests.support.tabs import wait_status
from tether import Context, Hub
from tether.accounts import open_directory
from tether.config import Settings
from tether.credentials import new_token, token_digest
from tether.users import UserRecord

hub_def = Hub()


@hub_def.task()
async def wait_forever(ctx: Context) -> None:
    """Waits for a confirmation, so it stays open to be cancelled."""
    await ctx.confirm("Go on?")


PARTNER = "https://partner.example"


@pytest.fixture
async def hub() -> AsyncIterator[RunningHub]:
    settings = Settings(static_dir=None, allowed_origins=(PARTNER,))
    async with run_hub(settings, hub_def) as running:
        yield running


START = json.dumps({"task": "wait_forever", "inputs": {}})


async def sessions_of(user: User) -> int:
    return len((await user.http.get("/api/sessions")).json()["sessions"])


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert "set-cookie" not in response.headers  # and no new identity was issued


async def test_cross_site_form_post_is_refused(user: User) -> None:
    """What `<form method=post action=http://hub/api/sessions>` on another site sends."""
    response = await user.http.post(
        "/api/sessions", content=b"task=wait_forever",
        headers={"content-type": "application/x-www-form-urlencoded",
                 "origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert_refused(response, 415, "unsupported_media_type")
    assert await sessions_of(user) == 0


async def test_json_sent_as_text_plain_is_refused_even_from_the_same_origin(
    hub: RunningHub, user: User
) -> None:
    """`enctype=text/plain` can carry a JSON-looking body: it is not taken as JSON."""
    response = await user.http.post(
        "/api/sessions", content=START.encode(),
        headers={"content-type": "text/plain", "origin": hub.base_url},
    )
    assert_refused(response, 415, "unsupported_media_type")
    body_without_type = await user.http.post(
        "/api/sessions", content=START.encode(), headers={"content-type": ""}
    )
    assert_refused(body_without_type, 415, "unsupported_media_type")
    assert await sessions_of(user) == 0


@pytest.mark.parametrize("headers", [
    {"origin": "https://evil.example"},
    {"origin": "null"},  # a sandboxed frame or a data: page
    {"origin": "http://127.0.0.1.evil.example"},
    {"sec-fetch-site": "cross-site"},  # a browser that left Origin out
    {"sec-fetch-site": "same-site"},  # a sibling subdomain is another origin
], ids=["foreign", "null", "lookalike", "no-origin-cross-site", "no-origin-same-site"])
async def test_a_foreign_origin_is_refused(user: User, headers: dict[str, str]) -> None:
    start = await user.http.post(
        "/api/sessions", content=START.encode(),
        headers={"content-type": "application/json", **headers},
    )
    assert_refused(start, 403, "cross_site_request")
    assert await sessions_of(user) == 0
    # A write with no body (cancel) is refused the same way, and changes nothing.
    session = await user.start("wait_forever")
    cancel = await user.http.post(f"/api/sessions/{session['id']}/cancel", headers=headers)
    assert_refused(cancel, 403, "cross_site_request")
    await wait_status(user, session["id"], "waiting")


async def test_same_origin_and_listed_origins_may_write(hub: RunningHub, user: User) -> None:
    port = hub.base_url.rsplit(":", 1)[1]
    for origin in (hub.base_url, PARTNER, f"HTTP://127.0.0.1:{port}"):
        response = await user.http.post(
            "/api/sessions", content=START.encode(),
            headers={"content-type": "application/json; charset=utf-8", "origin": origin,
                     "sec-fetch-site": "same-origin"},
        )
        assert response.status_code == 201, (origin, response.text)
        cancel = await user.http.post(
            f"/api/sessions/{response.json()['id']}/cancel", headers={"origin": origin}
        )
        assert cancel.status_code == 202, cancel.text
    # A program (no Origin, no Sec-Fetch-Site) is no browser page: it may write.
    assert (await user.http.post("/api/sessions", content=START.encode(), headers={
        "content-type": "application/json"})).status_code == 201


async def test_a_bearer_that_authenticates_nothing_exempts_nothing(user: User) -> None:
    """Single-person mode reads no bearer but a link's: ``Bearer junk`` beside the
    browser's cookie is still a cookie-authenticated write, checked as one."""
    before = await sessions_of(user)
    for content_type, status, code in (("text/plain", 415, "unsupported_media_type"),
                                       ("application/json", 403, "cross_site_request")):
        response = await user.http.post(
            "/api/sessions", content=START.encode(),
            headers={"content-type": content_type, "origin": "https://evil.example",
                     "authorization": "Bearer junk"},
        )
        assert_refused(response, status, code)
    assert await sessions_of(user) == before


async def test_an_accounts_bearer_is_exempt(tmp_path: Path) -> None:
    """A browser never adds Authorization by itself, so a request the token authenticates
    is no forgery; a wrong token beside a cookie is refused by the identity layer."""
    settings = Settings(static_dir=None, users_file=tmp_path / "users.toml")
    directory = open_directory(settings)
    token = new_token()
    await directory.add(UserRecord(name="bot"))
    await directory.add_token("bot", token_digest(token))
    try:
        async with run_hub(settings, hub_def) as running, \
                httpx.AsyncClient(base_url=running.base_url) as http:
            for bearer, status in ((token, 201), ("junk", 401)):
                response = await http.post(
                    "/api/sessions", content=START.encode(),
                    headers={"content-type": "application/json",
                             "origin": "https://cli.example",
                             "authorization": f"Bearer {bearer}"},
                )
                assert response.status_code == status, response.text
    finally:
        await directory.close()


async def test_reads_are_not_checked(hub: RunningHub) -> None:
    async with new_user(hub) as user:
        listed = await user.http.get("/api/sessions", headers={"origin": "https://evil.example"})
        assert listed.status_code == 200
