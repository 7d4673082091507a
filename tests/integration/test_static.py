"""The browser app's files: hashed assets cached for a year, index.html for app routes,
and nothing a path can do to reach outside the build or to fail the request."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.server import run_hub
from tether.config import Settings
from tether.demos import build_demo_hub


async def test_app_routes_assets_and_odd_paths(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets" / "app-abc123.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("not for you")
    async with run_hub(Settings(static_dir=tmp_path), build_demo_hub()) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as http:
            asset = await http.get("/assets/app-abc123.js")
            assert asset.status_code == 200
            assert "immutable" in asset.headers["cache-control"]
            route = await http.get("/sessions/0123")
            assert route.status_code == 200 and "<title>app</title>" in route.text
            assert route.headers["cache-control"] == "no-cache"
            for odd in ("/%00", "/a%00b.js", "/..%2fsecret.txt", "/" + "x" * 5000):
                response = await http.get(odd)
                assert response.status_code == 200, odd
                assert "not for you" not in response.text
            bad = await http.get("/api/sessions", params={"limit": "²"})
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_query"
            doc = (await http.get("/openapi.json")).json()
            assert "/api/sessions/{session_id}/fork" in doc["paths"]


async def test_a_static_dir_without_a_build_serves_the_notice(tmp_path: Path) -> None:
    """A TETHER_STATIC_DIR that names an empty or missing folder is no build: every app
    page is the notice that the app is not built, never a 500."""
    for folder in (tmp_path, tmp_path / "missing"):
        async with run_hub(Settings(static_dir=folder), build_demo_hub()) as hub:
            async with httpx.AsyncClient(base_url=hub.base_url) as http:
                for path in ("/", "/login", "/sessions/0123"):
                    page = await http.get(path)
                    assert page.status_code == 200, (folder, path)
                    assert "The browser app is not built" in page.text


async def test_behind_a_trusted_proxy_the_api_needs_the_user_header() -> None:
    """With TETHER_TRUST_USER_HEADER, an API request without X-Tether-User is 401
    not_authenticated (no anonymous cookie); health checks and the app still answer."""
    settings = Settings(static_dir=None, trust_user_header=True, allowed_hosts=("127.0.0.1",))
    async with run_hub(settings, build_demo_hub()) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as http:
            anonymous = await http.get("/api/sessions")
            assert anonymous.status_code == 401
            assert anonymous.json()["error"]["code"] == "not_authenticated"
            assert "set-cookie" not in anonymous.headers
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/")).status_code == 200
            ana = {"X-Tether-User": "ana@corp"}
            started = await http.post("/api/sessions", headers=ana,
                                      json={"task": "ticker", "inputs": {"count": 1}})
            assert started.status_code == 201 and started.json()["owner"] == "user:ana@corp"
            other = await http.get(f"/api/sessions/{started.json()['id']}",
                                   headers={"X-Tether-User": "bob@corp"})
            assert other.status_code == 404
