"""With the access log on, no URL credential reaches it: share links, login links and
answer links show as ``[redacted]`` in every line a real hub writes."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import run_hub
from tests.support.timing import eventually
from tether import Hub
from tether.access_redaction import redact_path
from tether.config import Settings

SECRETS = {
    "/api/sessions/s_1/events?after=0&link=lk_SECRETLINK": "lk_SECRETLINK",
    "/login?token=SECRETLOGIN&next=/": "SECRETLOGIN",
    "/api/answer/al_SECRETANSWER": "al_SECRETANSWER",
    "/answer/al_SECRETPAGE?x=1": "al_SECRETPAGE",
}


async def test_credentials_in_urls_never_reach_the_access_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(static_dir=None, access_log=True)
    seen: list[str] = []

    def logged_all() -> bool:  # uvicorn's access handler writes to stdout
        captured = capsys.readouterr()
        seen.append(captured.out + captured.err)
        return "".join(seen).count('" 200') + "".join(seen).count('" 404') >= len(SECRETS)

    async with run_hub(settings, Hub()) as hub, \
            httpx.AsyncClient(base_url=hub.base_url) as http:
        for path in SECRETS:
            await http.get(path)
        await eventually(logged_all, what="an access line for every request")
    text = "".join(seen)
    for secret in SECRETS.values():
        assert secret not in text
    assert text.count("[redacted]") >= len(SECRETS), text
    assert "after=0" in text and "next=/" in text  # the rest of each URL stays


def test_redact_path_keeps_what_is_no_credential() -> None:
    assert redact_path("/api/sessions?token=a&link=b&x=c") == (
        "/api/sessions?token=[redacted]&link=[redacted]&x=c"
    )
    assert redact_path("/api/answer/al_x") == "/api/answer/[redacted]"
    assert redact_path("/api/sessions/s_1") == "/api/sessions/s_1"
