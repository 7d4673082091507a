"""Every HTTP answer of the hub carries its security headers: the app's page and files,
API answers, errors of every kind (docs/SECURITY.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import RunningHub, run_hub
from tether import Context, Hub
from tether.config import Settings

hub_def = Hub()


@hub_def.task()
async def noop(ctx: Context) -> None:
    """Does nothing."""


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets" / "app-1.js").write_text("console.log(1)")
    async with run_hub(Settings(static_dir=tmp_path), hub_def) as running:
        yield running


def assert_secured(response: httpx.Response) -> None:
    headers = response.headers
    directives = [d.strip() for d in headers["content-security-policy"].split(";")]
    csp = {d.split(" ", 1)[0]: d for d in directives}
    assert csp["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["style-src"] == "style-src 'self'"
    assert csp["default-src"] == "default-src 'self'"
    assert csp["img-src"] == "img-src 'self' data:"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["object-src"] == "object-src 'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers.get_list("content-security-policy") == [headers["content-security-policy"]]


async def test_every_kind_of_answer_has_the_headers(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        answers = [
            await http.get("/"),
            await http.get("/sessions/abc"),  # an app route: index.html
            await http.get("/assets/app-1.js"),
            await http.head("/"),
            await http.get("/api/tasks"),
            await http.get("/healthz"),
            await http.get("/openapi.json"),
            await http.get("/api/nope"),  # 404
            await http.put("/healthz"),  # 405
            await http.get("/api/sessions?limit=0"),  # 422
            await http.post("/api/sessions", content=b"{}", headers={
                "content-type": "text/plain"}),  # 415
            await http.post("/api/sessions", json={}, headers={
                "origin": "https://evil.example"}),  # 403
        ]
    assert [a.status_code for a in answers] == [
        200, 200, 200, 200, 200, 200, 200, 404, 405, 422, 415, 403]
    for answer in answers:
        assert_secured(answer)


async def test_an_unauthenticated_answer_has_them_too() -> None:
    async with (
        run_hub(Settings(static_dir=None, trust_user_header=True, allowed_hosts=("127.0.0.1",)),
                hub_def) as hub,
        httpx.AsyncClient(base_url=hub.base_url) as http,
    ):
        response = await http.get("/api/sessions")
        assert response.status_code == 401
        assert_secured(response)
        assert_secured(await http.get("/"))  # the "app not built" notice
