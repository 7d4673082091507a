"""A real OpenID provider for the login tests: ``tests/support/oidc/provider.mjs``
(panva's oidc-provider under Node) on a free port, and a client that logs in at its
development login page without a browser.

``make test`` installs its packages (``npm ci`` in tests/support/oidc).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx

from tests.support.timing import MS

HERE = Path(__file__).resolve().parent / "oidc"
_ISSUER = re.compile(r"^issuer (http://\S+)$")
_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.IGNORECASE)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str


HUB_CLIENT = Client("tether-test", "tether-test-secret-0123456789abcdef")
OTHER_CLIENT = Client("other-app", "other-app-secret-0123456789abcdef")


@dataclass
class ProviderProcess:
    """``node provider.mjs`` with the given clients; ``issuer`` once it answers."""

    clients: tuple[Client, ...] = (HUB_CLIENT, OTHER_CLIENT)
    issuer: str = ""
    log: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None

    def start(self) -> ProviderProcess:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is missing (the browser app's build needs it too)")
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("tests/support/oidc has no node_modules: `make test` runs npm ci")
        env = {
            **os.environ,
            "OIDC_CLIENTS": json.dumps([c.__dict__ for c in self.clients]),
        }
        self.proc = subprocess.Popen(
            [node, "provider.mjs"], cwd=HERE, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        found = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.log.append(line.rstrip())
                match = _ISSUER.match(line.strip())
                if match:
                    self.issuer = match.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(15000 * MS):
            self.stop()
            raise RuntimeError("the OpenID provider did not start:\n" + "\n".join(self.log))
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def tamper_next_id_token(self, how: str) -> None:
        """Make the provider's next token answer carry an ID token changed ``how``
        (``audience``, ``nonce`` or ``signature``; see provider.mjs)."""
        response = httpx.post(f"{self.issuer}/test/tamper", json={"id_token": how})
        assert response.status_code == 204, response.text


async def log_in_at_provider(
    http: httpx.AsyncClient, authorization_url: str, login: str
) -> str:
    """Follow ``authorization_url`` through the provider's development login page as
    ``login`` (any password); the URL the provider finally redirects to (the hub's
    callback, not followed)."""
    url = authorization_url
    for _ in range(10):
        response = await http.get(url)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            if not url.startswith(http_origin(authorization_url)):
                return url
            continue
        assert response.status_code == 200, response.text
        action = _FORM.search(response.text)
        assert action is not None, response.text
        fields = dict(_HIDDEN.findall(response.text))
        fields.update({"login": login, "password": "any password"})
        posted = await http.post(urljoin(url, unescape(action.group(1))), data=fields)
        assert posted.status_code in (302, 303), posted.text
        url = urljoin(url, posted.headers["location"])
        if not url.startswith(http_origin(authorization_url)):
            return url
    raise AssertionError("the provider's login did not end in a redirect to the hub")


def http_origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
