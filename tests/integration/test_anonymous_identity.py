"""Single-person mode: the hub never replaces a browser's valid identity — not for a
cross-site form POST, not because other cookies sit beside ours."""

from __future__ import annotations

import httpx
import pytest
import websockets

from tests.support.server import RunningHub, User
from tether.demos import build_demo_hub

hub_def = build_demo_hub()


@pytest.mark.parametrize(
    "others", ["foo", "a=b c", 'prefs={"theme":"dark","cols":[1,2]}', "foo; a=b c; prefs={x}"]
)
async def test_other_cookies_beside_ours_keep_the_identity(
    hub: RunningHub, user: User, others: str
) -> None:
    session = await user.start("ticker", {"count": 1})
    ours = user.cookie_header["Cookie"]
    async with httpx.AsyncClient(base_url=hub.base_url) as bare:
        for header in (f"{others}; {ours}", f"{ours}; {others}"):
            seen = await bare.get(f"/api/sessions/{session['id']}", headers={"Cookie": header})
            assert seen.status_code == 200, (header, seen.text)
            assert "set-cookie" not in seen.headers
            me = await bare.get("/api/me", headers={"Cookie": header})
            assert me.json()["id"] == session["owner"]
    url = f"{hub.ws_url}/ws/sessions/{session['id']}"
    async with websockets.connect(url, additional_headers={"Cookie": f"{others}; {ours}"}) as ws:
        first = await ws.recv()
        assert '"type":"replay_start"' in str(first)  # admitted, not closed 4401


async def test_a_cross_site_post_without_cookies_gets_no_new_identity(hub: RunningHub) -> None:
    """A form POST from another site carries no SameSite=Lax cookie: it is refused, and
    no Set-Cookie could replace the browser's identity."""
    async with httpx.AsyncClient(base_url=hub.base_url) as bare:
        response = await bare.post(
            "/api/sessions", content=b'{"task":"ticker","inputs":{}}',
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example",
                     "Sec-Fetch-Site": "cross-site"},
        )
        # Refused before identity is even looked at (the cross-site check runs first).
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"
        assert "set-cookie" not in response.headers
        as_json = await bare.post(
            "/api/sessions", json={"task": "ticker", "inputs": {}},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert as_json.status_code == 403 and "set-cookie" not in as_json.headers
        same_site = await bare.post("/api/sessions", json={"task": "ticker", "inputs": {}})
        assert same_site.status_code == 401
        assert same_site.json()["error"]["code"] == "not_authenticated"
        assert "set-cookie" not in same_site.headers
        cross_get = await bare.get("/api/tasks", headers={"Sec-Fetch-Site": "cross-site"})
        assert cross_get.status_code == 401 and "set-cookie" not in cross_get.headers


async def test_a_first_visit_gets_an_identity_and_me_names_it(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as browser:
        me = await browser.get("/api/me")
        assert me.status_code == 200
        body = me.json()
        assert body["id"].startswith("u_") and body["roles"] == [] and body["groups"] == []
        assert body["mode"] == "anonymous"
        cookie = me.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        again = await browser.get("/api/me")
        assert again.json()["id"] == body["id"] and "set-cookie" not in again.headers
