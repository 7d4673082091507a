"""The browser app in a real Chromium against a real hub (Redis store): every flow by
clicking and typing, refreshes, several tabs, a log of 50,000 lines, the hub restarting
mid-task, and forking a session from an answered question.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    WebSocket,
    WebSocketRoute,
    expect,
)

from tests.e2e.browser_tasks import PREFILLED_ORDER, build_browser_hub, steady_line
from tests.support.server import RunningHub, run_hub
from tests.support.timing import MS
from tether.config import Settings

ROOT = Path(__file__).resolve().parents[2]
VALID_EMAIL = "ana@example.com"


async def start_from_catalog(page: Page, title: str, inputs: dict[str, str]) -> str:
    """Open the catalogue, start `title` with `inputs` (by label); return the session id."""
    await page.goto("/")
    await page.get_by_role("link", name=f"Start {title}").click()
    for label, value in inputs.items():
        await page.get_by_label(label).fill(value)
    await page.get_by_role("button", name="Start task").click()
    await expect(page).to_have_url(re.compile(r"/sessions/[^/]+$"))
    return page.url.rsplit("/", 1)[-1]


async def start_by_api(page: Page, task: str, inputs: dict[str, Any]) -> str:
    """Start a session as this browser (its cookie), without the form."""
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    response = await page.request.post("/api/sessions", data={"task": task, "inputs": inputs})
    assert response.status == 201, await response.text()
    session_id: str = (await response.json())["id"]
    return session_id


def dialog(page: Page) -> Locator:
    return page.get_by_role("dialog")


def log_rows(page: Page) -> Locator:
    return page.locator(".log-row .log-text")


async def fill_email(page: Page, to_address: str) -> None:
    await dialog(page).get_by_label("Subject of the email").fill("Quarterly numbers")
    await dialog(page).get_by_label("Body of the email").fill("Hi Ana,\nthe numbers are in.")
    await dialog(page).get_by_label("Recipient email address").fill(to_address)
    await dialog(page).get_by_role("button", name="Submit").click()


async def test_email_demo_by_hand(page: Page, artifacts: Path) -> None:
    """Start, a refused answer with its field error, five steps, retry, confirm, result."""
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Email demo")).to_be_visible()
    await page.screenshot(path=artifacts / "catalog.png", full_page=True)

    await start_from_catalog(page, "Email demo", {"Seconds each processing step takes": "0.05"})
    await expect(
        dialog(page).get_by_role("heading", name="Compose the email to send")
    ).to_be_visible()

    await fill_email(page, "not-an-email")
    error = dialog(page).get_by_text("An email address must have an @-sign.")
    await expect(error).to_be_visible()
    recipient = dialog(page).get_by_label("Recipient email address")
    await expect(recipient).to_have_attribute("aria-invalid", "true")

    await recipient.fill(VALID_EMAIL)
    await dialog(page).get_by_role("button", name="Submit").click()

    # The send fails once on purpose: the retry offer shows the error and the attempt.
    await expect(dialog(page).get_by_text("Attempt 1 failed")).to_be_visible()
    await expect(dialog(page).get_by_text("Simulated task failure")).to_be_visible()
    steps = [t for t in await log_rows(page).all_inner_texts() if t.startswith("Processing")]
    assert steps == [f"Processing email step {i}/5..." for i in range(1, 6)]
    await expect(page.get_by_role("progressbar", name="Processing")).to_have_attribute(
        "aria-valuenow", "5"
    )
    await dialog(page).get_by_role("button", name="Retry").click()

    await expect(dialog(page).get_by_role("heading", name="Send this email?")).to_be_visible()
    await expect(dialog(page).locator(".details")).to_contain_text(f"To: {VALID_EMAIL}")
    await page.screenshot(path=artifacts / "session-confirm.png")

    # Escape puts the question aside; the list of open requests brings it back, and the
    # keyboard alone answers it.
    await page.keyboard.press("Escape")
    await expect(dialog(page)).to_have_count(0)
    waiting = page.get_by_role("region", name=re.compile("Waiting for you"))
    await expect(waiting).to_contain_text("Send this email?")
    await page.screenshot(path=artifacts / "session-waiting.png")
    if os.environ.get("TETHER_DOCS_SCREENSHOT"):
        await page.screenshot(path=ROOT / "docs" / "screenshot.png")
    await waiting.get_by_role("button", name="Answer").click()
    await expect(dialog(page).get_by_role("button", name="Yes")).to_be_focused()
    await page.keyboard.press("Enter")

    result = page.get_by_role("region", name="Result")
    await expect(result).to_contain_text(VALID_EMAIL)
    await expect(result).to_contain_text("Quarterly numbers")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")
    await expect(dialog(page)).to_have_count(0)
    await expect(log_rows(page).last).to_have_text("Task completed.")
    await page.screenshot(path=artifacts / "session.png", full_page=True)


async def test_giving_up_on_the_retry_fails_the_session(page: Page) -> None:
    """Declining the retry ends the session as failed, with the error shown."""
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto(f"/sessions/{session_id}")
    await fill_email(page, VALID_EMAIL)
    await dialog(page).get_by_role("button", name="Give up").click()
    failure = page.get_by_role("region", name="The task failed")
    await expect(failure).to_contain_text("Simulated task failure")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "failed")


async def test_refresh_restores_log_progress_and_dialog(page: Page) -> None:
    """A reload mid-task replays the session: the same log, progress and open dialog."""
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto(f"/sessions/{session_id}")
    await fill_email(page, VALID_EMAIL)
    await expect(dialog(page).get_by_text("Attempt 1 failed")).to_be_visible()
    before_log = await log_rows(page).all_inner_texts()
    before_progress = await page.locator(".progress").inner_text()
    before_dialog = await dialog(page).inner_text()

    await page.reload()
    await expect(dialog(page).get_by_text("Attempt 1 failed")).to_be_visible()
    assert await dialog(page).inner_text() == before_dialog
    assert await page.locator(".progress").inner_text() == before_progress
    await expect(log_rows(page)).to_have_count(len(before_log))
    assert await log_rows(page).all_inner_texts() == before_log

    await dialog(page).get_by_role("button", name="Retry").click()
    await expect(dialog(page).get_by_role("heading", name="Send this email?")).to_be_visible()


async def test_two_tabs_see_one_answer(context: BrowserContext, page: Page) -> None:
    """Answering in one tab closes the other tab's dialog, says who answered, and both
    tabs keep following the log."""
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0.05})
    other = await context.new_page()
    await page.goto(f"/sessions/{session_id}")
    await other.goto(f"/sessions/{session_id}")
    for tab in (page, other):
        await expect(
            dialog(tab).get_by_role("heading", name="Compose the email to send")
        ).to_be_visible()

    await fill_email(page, VALID_EMAIL)
    await expect(dialog(other)).to_have_count(0)
    await expect(other.get_by_role("status").filter(has_text="answered by you")).to_be_visible()

    for tab in (page, other):
        await expect(tab.get_by_text("Processing email step 5/5...")).to_be_visible()
        await expect(dialog(tab).get_by_text("Attempt 1 failed")).to_be_visible()
    await dialog(other).get_by_role("button", name="Retry").click()
    await expect(page.get_by_role("status").filter(has_text="retried by you")).to_be_visible()
    for tab in (page, other):
        await expect(dialog(tab).get_by_role("heading", name="Send this email?")).to_be_visible()
    assert await log_rows(page).all_inner_texts() == await log_rows(other).all_inner_texts()


async def test_cancel_ends_every_tab(context: BrowserContext, page: Page) -> None:
    """Cancelling from the session view ends the session as cancelled in every tab."""
    session_id = await start_by_api(
        page, "calculator", {"tasks": 200, "max_seconds": 5, "concurrency": 1}
    )
    other = await context.new_page()
    await page.goto(f"/sessions/{session_id}")
    await other.goto(f"/sessions/{session_id}")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "running")

    await page.get_by_role("button", name="Cancel task").click()
    await page.get_by_role("dialog").get_by_role("button", name="Cancel task").click()
    for tab in (page, other):
        await expect(tab.locator("[data-status]").first).to_have_attribute(
            "data-status", "cancelled"
        )
        await expect(tab.get_by_role("region", name="Cancelled")).to_be_visible()
        await expect(tab.get_by_role("button", name="Cancel task")).to_have_count(0)


async def test_the_cancel_question_closes_when_another_tab_cancels(
    context: BrowserContext, page: Page
) -> None:
    """A tab asking "Cancel this task?" drops the question once the session has ended
    elsewhere, instead of offering to cancel what is already over."""
    session_id = await start_by_api(
        page, "calculator", {"tasks": 200, "max_seconds": 5, "concurrency": 1}
    )
    other = await context.new_page()
    await page.goto(f"/sessions/{session_id}")
    await other.goto(f"/sessions/{session_id}")
    await page.get_by_role("button", name="Cancel task").click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await other.get_by_role("button", name="Cancel task").click()
    await other.get_by_role("dialog").get_by_role("button", name="Cancel task").click()
    await expect(page.locator("[data-status]").first).to_have_attribute(
        "data-status", "cancelled"
    )
    await expect(page.get_by_role("dialog")).to_have_count(0)


async def test_a_number_the_browser_cannot_read_is_refused(page: Page) -> None:
    """Text that is not a number gets "Enter a number." next to its field, and no session
    starts with a default the person did not choose."""
    await page.goto("/tasks/calculator")
    field = page.get_by_label("Longest a job may take")
    await field.fill("2e")
    await page.get_by_role("button", name="Start task").click()
    await expect(page.get_by_text("Enter a number.")).to_be_visible()
    assert page.url.endswith("/tasks/calculator")


async def test_sessions_list_and_title_badge(page: Page) -> None:
    """The list shows the user's sessions newest first; a waiting request badges the title."""
    first = await start_by_api(page, "calculator", {"tasks": 1, "max_seconds": 0})
    second = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto("/sessions")
    rows = page.locator(".session-row")
    await expect(rows).to_have_count(2)
    assert await rows.nth(0).get_attribute("data-session") == second
    assert await rows.nth(1).get_attribute("data-session") == first
    await expect(rows.nth(0)).to_contain_text("Email demo")
    await expect(rows.nth(0)).to_contain_text("1 waiting for you")
    await expect(rows.nth(1)).to_contain_text("Completed")
    await expect(page).to_have_title("(1) Tether")

    await page.get_by_label("Show sessions with status").select_option("completed")
    await expect(rows).to_have_count(1)
    assert await rows.nth(0).get_attribute("data-session") == first
    await page.get_by_label("Show sessions with status").select_option("")
    await expect(rows).to_have_count(2)

    await rows.nth(0).click()
    await expect(page).to_have_url(re.compile(f"/sessions/{second}$"))
    await fill_email(page, VALID_EMAIL)
    await expect(dialog(page).get_by_text("Attempt 1 failed")).to_be_visible()
    await expect(page).to_have_title("(1) Tether")
    await dialog(page).get_by_role("button", name="Give up").click()
    await expect(page).to_have_title("Tether")


async def test_unknown_session_says_not_found(page: Page) -> None:
    """The page says what the hub said about the missing session, not a guess of its own."""
    await page.goto("/")
    await page.goto("/sessions/no-such-session")
    await expect(page.get_by_role("heading", name="Session not found")).to_be_visible()
    response = await page.request.get("/api/sessions/no-such-session")
    assert response.status == 404
    message = (await response.json())["error"]["message"]
    await expect(page.locator(".not-found-reason")).to_have_text(message)


async def test_a_task_is_drawn_by_the_view_it_names(page: Page) -> None:
    """A task naming a registered view gets that view; one naming a view the app does not
    have gets the generic view and a quiet note, and nothing breaks."""
    drafted = await start_by_api(page, "reply_drafts", {})
    await page.goto(f"/sessions/{drafted}")
    assistant = page.get_by_role("region", name="Email assistant")
    await expect(assistant.locator("[data-draft='1']")).to_contain_text("Friday works.")
    await expect(assistant.locator(".final")).to_contain_text("Dear Ana,")
    await expect(page.get_by_role("region", name="State")).to_have_count(0)
    await expect(page.locator(".view-note")).to_have_count(0)

    charted = await start_by_api(page, "gantt_chart", {})
    await page.goto(f"/sessions/{charted}")
    await expect(page.get_by_role("region", name="Result")).to_contain_text("3")
    state = page.get_by_role("region", name="State")
    await expect(state.locator(".value-row", has_text="Bars")).to_contain_text("3")
    await expect(page.locator(".view-note")).to_contain_text("gantt")
    await expect(page.get_by_role("region", name="Email assistant")).to_have_count(0)


async def test_a_failed_session_shows_type_message_and_traceback(page: Page) -> None:
    """The failure panel names the exception's type and message; its traceback (sent to
    the owner) opens on demand; the log says the task failed, not "Attempt 1"."""
    session_id = await start_by_api(page, "failing", {"key": "colour"})
    await page.goto(f"/sessions/{session_id}")
    failure = page.get_by_role("region", name="The task failed")
    await expect(failure.locator(".failure-type")).to_have_text("KeyError")
    await expect(failure).to_contain_text("'colour'")
    await expect(page.locator(".log-failure")).to_have_text(
        re.compile(r"The task failed: KeyError: 'colour'")
    )
    await expect(page.locator(".log-failure")).not_to_contain_text("Attempt")
    traceback = failure.locator(".traceback pre")
    await expect(traceback).to_be_hidden()
    await failure.get_by_text("Traceback", exact=True).click()
    await expect(traceback).to_be_visible()
    await expect(traceback).to_contain_text("look_up")
    await expect(traceback).to_contain_text("KeyError")
    await failure.get_by_text("Traceback", exact=True).click()
    await expect(traceback).to_be_hidden()


async def test_who_cancelled_is_shown_after_a_refresh(page: Page) -> None:
    """A session the viewer cancelled says "Cancelled by you", one the task cancelled says
    so with its reason; both survive a reload."""
    session_id = await start_by_api(page, "steady", {"lines": 10_000, "every": 0.05})
    await page.goto(f"/sessions/{session_id}")
    await page.get_by_role("button", name="Cancel task").click()
    await dialog(page).get_by_role("button", name="Cancel task").click()
    cancelled = page.get_by_role("region", name="Cancelled")
    await expect(cancelled).to_contain_text("Cancelled by you")
    await page.reload()
    await expect(cancelled).to_contain_text("Cancelled by you")

    by_task = await start_by_api(page, "self_cancelling", {})
    await page.goto(f"/sessions/{by_task}")
    await expect(cancelled).to_contain_text("Cancelled by the task: out of budget")
    await page.reload()
    await expect(cancelled).to_contain_text("Cancelled by the task: out of budget")


async def test_the_fork_origin_shows_on_a_direct_load(page: Page) -> None:
    """A forked session opened by its URL (not through the fork button) names its source
    and the event it was forked at, and links back."""
    source = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto(f"/sessions/{source}")
    await expect(
        dialog(page).get_by_role("heading", name="Compose the email to send")
    ).to_be_visible()
    at_seq = (await (await page.request.get(f"/api/sessions/{source}")).json())["last_seq"]
    response = await page.request.post(f"/api/sessions/{source}/fork", data={"at_seq": at_seq})
    assert response.status == 201, await response.text()
    forked = (await response.json())["id"]

    await page.goto(f"/sessions/{forked}")
    origin = page.locator(".forked-from")
    await expect(origin).to_have_text(f"Forked from {source} at event {at_seq}")
    await page.reload()
    await expect(origin).to_have_text(f"Forked from {source} at event {at_seq}")
    # The fork asks the question again; put it aside to reach the link.
    await expect(
        dialog(page).get_by_role("heading", name="Compose the email to send")
    ).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog(page)).to_have_count(0)
    await origin.get_by_role("link", name=source).click()
    await expect(page).to_have_url(re.compile(f"/sessions/{source}$"))
    await expect(page.locator(".forked-from")).to_have_count(0)


async def test_list_filters_live_in_the_url(page: Page) -> None:
    """The status filter is in the URL: a reload keeps it, back and forward step through it."""
    done = await start_by_api(page, "calculator", {"tasks": 1, "max_seconds": 0})
    waiting = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto("/sessions")
    rows = page.locator(".session-row")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(1)).to_contain_text(re.compile(r"took (under a second|\d+ s)"))
    await expect(rows.nth(0)).to_contain_text(re.compile(r"running for (under a second|\d+ s)"))
    select = page.get_by_label("Show sessions with status")
    await select.select_option("completed")
    await expect(page).to_have_url(re.compile(r"/sessions\?status=completed$"))
    await expect(rows).to_have_count(1)
    assert await rows.nth(0).get_attribute("data-session") == done

    await page.reload()
    await expect(select).to_have_value("completed")
    await expect(rows).to_have_count(1)
    assert await rows.nth(0).get_attribute("data-session") == done

    await page.go_back()
    await expect(page).to_have_url(re.compile(r"/sessions$"))
    await expect(select).to_have_value("")
    await expect(rows).to_have_count(2)
    await page.go_forward()
    await expect(select).to_have_value("completed")
    await expect(rows).to_have_count(1)
    await select.select_option("waiting")
    await expect(rows).to_have_count(1)
    assert await rows.nth(0).get_attribute("data-session") == waiting


async def test_the_reconnect_badge_stays_above_an_open_dialog(page: Page) -> None:
    """The connection drops while a question's dialog is open: the badge shows above the
    dialog's backdrop (not hidden under it) and "Retry now" can be clicked."""
    routes: list[WebSocketRoute] = []
    hub_back = True

    async def gate(ws: WebSocketRoute) -> None:
        routes.append(ws)
        if hub_back:
            ws.connect_to_server()
        else:
            await ws.close(code=1012, reason="hub restarting")

    await page.route_web_socket(re.compile(r"/ws/sessions/"), gate)
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto(f"/sessions/{session_id}")
    await expect(
        dialog(page).get_by_role("heading", name="Compose the email to send")
    ).to_be_visible()
    badge = page.locator(".conn")
    await expect(badge).to_have_attribute("data-phase", "open")

    hub_back = False
    await routes[0].close(code=1012, reason="hub restarting")
    await expect(badge).to_contain_text(re.compile(r"Reconnecting in [2-9] s"))
    on_top = await badge.evaluate(
        """el => { const r = el.getBoundingClientRect();
                   const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                   return hit !== null && el.contains(hit); }"""
    )
    assert on_top, "the badge is hidden under the dialog's backdrop"
    await expect(dialog(page).get_by_label("Subject of the email")).to_be_visible()

    hub_back = True
    await badge.get_by_role("button", name="Retry now").click()
    await expect(badge).to_have_attribute("data-phase", "open")
    await expect(
        dialog(page).get_by_role("heading", name="Compose the email to send")
    ).to_be_visible()


async def test_email_assistant_renders_from_state(page: Page) -> None:
    """Questions answered in place, drafts in order with their feedback, the final draft."""
    await start_from_catalog(
        page,
        "Email assistant",
        {
            "The email you received": "Can we meet on Friday?\n\nBest, Ana",
            "How you want to respond": "say yes",
        },
    )
    assistant = page.get_by_role("region", name="Email assistant")
    await expect(assistant.get_by_role("heading", name="Questions")).to_be_visible()
    await assistant.get_by_label("What outcome do you want from this reply?").fill("Agree to meet")
    await assistant.get_by_label("What tone should it have (formal, friendly, brief)?").fill(
        "friendly"
    )
    await assistant.get_by_label("The email asks a question: what is your answer to it?").fill(
        "Friday at 10 works"
    )
    await assistant.get_by_role("button", name="Answer and draft").click()

    await expect(assistant.locator("[data-draft='1']")).to_contain_text("Hi Ana,")
    await expect(assistant.locator("[data-draft='1']")).to_contain_text("Friday at 10 works.")
    await expect(dialog(page)).to_have_count(0)  # answered in place, not in a dialog
    waiting = page.get_by_role("region", name=re.compile("Waiting for you"))
    await waiting.get_by_role("button", name="Answer").click()
    feedback = assistant.get_by_label("What should change? Leave empty to accept the draft.")
    await expect(feedback).to_be_focused()
    await assistant.get_by_label("What should change? Leave empty to accept the draft.").fill(
        "Mention the agenda"
    )
    await assistant.get_by_role("button", name="Revise").click()
    await expect(assistant.locator("[data-draft='2']")).to_contain_text(
        "(Revision 1: Mention the agenda)"
    )
    await expect(assistant.locator("[data-draft='1']")).to_contain_text(
        "Your feedback: Mention the agenda"
    )
    await assistant.get_by_role("button", name="Accept this draft").click()

    final = assistant.locator(".final")
    await expect(final).to_contain_text("(Revision 1: Mention the agenda)")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")
    await expect(dialog(page)).to_have_count(0)


@pytest.mark.hub_settings(history_cap=100_000)  # the default keeps 10,000 events
async def test_fifty_thousand_lines_stay_virtual(page: Page, hub: RunningHub) -> None:
    """50,000 log lines: all counted, few in the DOM, the tail followed, the head reachable."""
    session_id = await start_by_api(page, "ticker", {"count": 50_000, "size": 16})
    await page.goto(f"/sessions/{session_id}")
    await expect(page.locator("[data-status]").first).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    log = page.get_by_role("log")
    lines = int(await log.get_attribute("data-lines") or 0)
    assert lines >= 50_000
    assert await page.locator(".log-row").count() < 200
    await expect(log_rows(page).last).to_have_text("Task completed.")

    await log.evaluate("el => { el.scrollTop = 0; }")
    await expect(page.get_by_text("00000000xxxxxxxx", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Latest|new line"))).to_be_visible()
    await page.get_by_role("button", name=re.compile("Latest|new line")).click()
    await expect(page.get_by_text("00049999xxxxxxxx", exact=True)).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_phone_width(
    context: BrowserContext, page: Page, artifacts: Path, scheme: str
) -> None:
    """At 390 px nothing overflows sideways and the dialog fits the screen, in both schemes."""
    await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    await page.set_viewport_size({"width": 390, "height": 800})
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.screenshot(path=artifacts / f"phone-catalog-{scheme}.png", full_page=True)
    await page.goto(f"/sessions/{session_id}")
    await expect(dialog(page).get_by_label("Subject of the email")).to_be_focused()
    box = await dialog(page).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    await page.screenshot(path=artifacts / f"phone-session-{scheme}.png")
    await page.keyboard.press("Escape")
    await expect(dialog(page)).to_have_count(0)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(17, 18, 20)") == (scheme == "dark")


@pytest.mark.hub_settings(history_cap=100)
async def test_a_refreshed_long_ticker_shows_the_kept_tail_and_a_true_notice(page: Page) -> None:
    """Past the history cap a refresh shows a notice that names how many earlier events
    are no longer kept, then every line the hub still keeps, up to the end."""
    session_id = await start_by_api(page, "ticker", {"count": 1000, "size": 16})
    await page.goto(f"/sessions/{session_id}")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")
    await page.reload()
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")
    await expect(page.get_by_role("region", name="Result")).to_contain_text("1000")

    # What the hub keeps, read from just past the snapshot's seq (no snapshot involved).
    first = await (await page.request.get(f"/api/sessions/{session_id}/events?limit=1")).json()
    gone = first["events"][0]["seq"]
    assert first["events"][0]["type"] == "snapshot" and gone > 0
    page_ = await (await page.request.get(f"/api/sessions/{session_id}/events?after={gone}")).json()
    kept = [e["content"] for e in page_["events"] if e["type"] == "stream"]
    assert len(kept) >= 90 and kept[-1].startswith("00000999")

    log = page.get_by_role("log")
    # the notice, every kept line, "Task completed."
    await expect(log).to_have_attribute("data-lines", str(1 + len(kept) + 1))
    await expect(log_rows(page).last).to_have_text("Task completed.")
    await expect(page.get_by_text(kept[-1], exact=True)).to_be_visible()
    await log.evaluate("el => { el.scrollTop = 0; }")
    await expect(log_rows(page).first).to_have_text(f"{gone:,} earlier events are no longer kept.")
    await expect(page.get_by_text(kept[0], exact=True)).to_be_visible()


# Event types the app's log shows as a row of their own (session/store.ts); a status
# event shows only when it says something the other rows do not.
ROW_TYPES = {
    "stream", "markdown", "request_user_input", "request_confirmation", "task_failed",
    "request_answered", "request_expired", "task_completed", "task_cancelled", "snapshot",
}


class SocketWatch:
    """Every WebSocket the page opens: its ``after=`` and the seqs of the events it got."""

    def __init__(self, page: Page) -> None:
        self.sockets: list[tuple[int, list[int]]] = []
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        seqs: list[int] = []
        query = parse_qs(urlsplit(ws.url).query)  # after=N, and the log's epoch once known
        self.sockets.append((int(query["after"][0]), seqs))

        def received(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if "seq" in frame:
                seqs.append(int(frame["seq"]))

        ws.on("framereceived", received)

    def assert_resumed_exactly(self, last_seq: int) -> None:
        """Each socket asked for the events after the last one the page already had, and
        across all of them the page received 1..last_seq, each once."""
        had = 0
        for after, seqs in self.sockets:
            assert after == had, f"reconnected with after={after}, having {had}"
            had = max([had, *seqs])
        received = [seq for _, seqs in self.sockets for seq in seqs]
        assert received == list(range(1, last_seq + 1)), received


async def stored_events(page: Page, session_id: str) -> list[dict[str, Any]]:
    response = await page.request.get(f"/api/sessions/{session_id}/events")
    assert response.status == 200, await response.text()
    events: list[dict[str, Any]] = (await response.json())["events"]
    return events


async def assert_rows_are_the_stored_log(page: Page, session_id: str) -> list[int]:
    """The log's rows are the stored events that show as rows, in order, none missing
    and none twice (status rows aside). Returns the stored log's last seq."""
    stored = await stored_events(page, session_id)
    rows = await page.locator(".log-row").evaluate_all(
        """rows => rows.map(r => [Number(r.dataset.seq),
            [...r.classList].find(c => c.startsWith('log-') && c !== 'log-row')])"""
    )
    shown = [seq for seq, kind in rows if kind != "log-status"]
    assert shown == [e["seq"] for e in stored if e["type"] in ROW_TYPES]
    return [e["seq"] for e in stored]


@pytest.mark.hub_settings(secret="browser-reconnect-secret", hub_id="browser-reconnect-hub")
async def test_reconnect_resumes_without_gaps_or_duplicates(
    browser: Browser, hub_settings: Settings
) -> None:
    """The hub stops mid-task (its sockets close with 1012) and comes back on the same
    address: the app reconnects with after= the last seq it had, receives every event
    of the session exactly once across its connections, and its log shows each stored
    event once, in order."""
    errors: list[str] = []
    context: BrowserContext | None = None
    try:
        async with run_hub(hub_settings, build_browser_hub()) as first:
            context = await browser.new_context(
                base_url=first.base_url, viewport={"width": 1100, "height": 860}
            )
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            watch = SocketWatch(page)
            session_id = await start_by_api(page, "email_demo", {"step_seconds": 0.3})
            await page.goto(f"/sessions/{session_id}")
            await fill_email(page, VALID_EMAIL)
            await expect(page.get_by_text("Processing email step 2/5...")).to_be_visible()
        await expect(page.locator(".conn")).to_contain_text("Reconnecting")
        port = int(first.base_url.rsplit(":", 1)[1])
        async with run_hub(hub_settings, build_browser_hub(), port=port):
            await expect(dialog(page).get_by_text("Attempt 1 failed")).to_be_visible()
            await expect(page.locator(".conn")).to_have_attribute("data-phase", "open")
            assert len(watch.sockets) >= 2, "the app never reconnected"
            assert watch.sockets[-1][0] > 7  # the new socket resumed past the answer
            seqs = await assert_rows_are_the_stored_log(page, session_id)
            watch.assert_resumed_exactly(seqs[-1])
            steps = [t for t in await log_rows(page).all_inner_texts()
                     if t.startswith("Processing")]
            assert steps == [f"Processing email step {i}/5..." for i in range(1, 6)]
    finally:
        if context is not None:
            await context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


async def read_whole_log(page: Page) -> list[tuple[int, str, str]]:
    """Every line of the (virtualised) log as (seq, kind, text), read by scrolling it from
    the top a window at a time."""
    log = page.get_by_role("log")
    total = int(await log.get_attribute("data-lines") or 0)
    seen: dict[int, tuple[int, str, str]] = {}
    await log.evaluate("el => { el.scrollTop = 0; }")
    for _ in range(total + 1):
        missing = next((i for i in range(total) if i not in seen), None)
        if missing is None:
            break
        # The row drawn at the top once React handled the scroll.
        await expect(page.locator(f".log-row[data-index='{missing}']")).to_have_count(1)
        rows = await page.locator(".log-row").evaluate_all(
            """rows => rows.map(r => [Number(r.dataset.index), Number(r.dataset.seq),
                [...r.classList].find(c => c.startsWith('log-') && c !== 'log-row'),
                r.querySelector('.log-text').textContent])"""
        )
        for index, seq, kind, text in rows:
            seen[index] = (seq, kind.removeprefix("log-"), text)
        await log.evaluate(
            "(el, index) => { el.scrollTop = index * 22; }", max(seen) + 1 - 2
        )
    assert sorted(seen) == list(range(total)), "the log could not be read whole"
    return [seen[i] for i in range(total)]


@pytest.mark.hub_settings(secret="browser-restart-secret", hub_id="browser-restart-hub")
async def test_hub_restart_mid_task_resumes_the_session(
    browser: Browser, hub_settings: Settings
) -> None:
    """The hub stops mid-stream and comes back on the same address (same Redis, same hub
    id, same secret): the badge shows the wait and then "Connected" again, the session
    carries on from its journal and completes, and the log holds every line exactly once,
    in order."""
    total = 300
    errors: list[str] = []
    context: BrowserContext | None = None
    try:
        async with run_hub(hub_settings, build_browser_hub()) as first:
            context = await browser.new_context(
                base_url=first.base_url, viewport={"width": 1100, "height": 860}
            )
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            session_id = await start_by_api(page, "steady", {"lines": total, "every": 0.03})
            await page.goto(f"/sessions/{session_id}")
            badge = page.locator(".conn")
            log = page.get_by_role("log")
            await expect(badge).to_have_attribute("data-phase", "open")
            await expect(page.get_by_text(steady_line(20, total), exact=True)).to_be_visible()
        # Leaving the block stopped the hub gracefully (should_exit, then its shutdown).

        await expect(badge).to_contain_text("Reconnecting")
        assert int(await log.get_attribute("data-lines") or 0) < total

        port = int(first.base_url.rsplit(":", 1)[1])
        async with run_hub(hub_settings, build_browser_hub(), port=port) as second:
            assert second.base_url == first.base_url
            await expect(badge).to_have_attribute("data-phase", "open")
            await expect(badge).to_have_text("Connected")
            await expect(page.locator("[data-status]").first).to_have_attribute(
                "data-status", "completed", timeout=60_000 * MS * 1000
            )
            await expect(page.get_by_role("region", name="Result")).to_contain_text(str(total))
            await expect(log_rows(page).last).to_have_text("Task completed.")

            lines = await read_whole_log(page)
            stored = await stored_events(page, session_id)
            # Every stored event that shows as a row, once and in order: no gap, no dup.
            assert [seq for seq, kind, _ in lines if kind != "status"] == [
                e["seq"] for e in stored if e["type"] in ROW_TYPES
            ]
            streamed = [text for _, kind, text in lines if kind == "stream"]
            assert streamed == [steady_line(i, total) for i in range(1, total + 1)]
            assert [kind for _, kind, _ in lines].count("done") == 1
            # A reload replays the same log from the store.
            await page.reload()
            await expect(log_rows(page).last).to_have_text("Task completed.")
            assert await read_whole_log(page) == lines
    finally:
        if context is not None:
            await context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


async def test_fork_from_an_answered_question(page: Page, artifacts: Path) -> None:
    """"Fork from here", offered once on a finished session's first question, starts a new
    session that asks it again, its form filled in with the old answer; another answer
    there gives another result, and the source keeps its own."""
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto(f"/sessions/{session_id}")
    await fill_email(page, VALID_EMAIL)
    await dialog(page).get_by_role("button", name="Retry").click()
    await dialog(page).get_by_role("button", name="Yes").click()
    result = page.get_by_role("region", name="Result")
    await expect(result).to_contain_text(VALID_EMAIL)

    # Once per exchange: on the question's line, not again on its answer's.
    question = page.locator(".log-request", has_text="Compose the email to send")
    answer = page.locator(".log-answer", has_text="Answered “Compose the email to send”")
    fork = question.get_by_role("button", name="Fork from here")
    at_seq = await question.get_attribute("data-seq")
    assert at_seq is not None
    await expect(fork).to_have_attribute("data-fork-at", at_seq)
    await expect(answer).to_have_count(1)
    await expect(answer.get_by_role("button", name="Fork from here")).to_have_count(0)
    await fork.focus()
    await page.screenshot(path=artifacts / "session-fork.png", full_page=True)
    await page.keyboard.press("Enter")  # keyboard alone

    await expect(page).to_have_url(re.compile(rf"/sessions/(?!{session_id})[^/?]+\?from="))
    forked_id = page.url.split("/sessions/", 1)[1].split("?", 1)[0]
    await expect(page.locator(".session")).to_have_attribute("data-session", forked_id)
    await expect(page.get_by_text(f"Forked from {session_id}")).to_be_visible()
    await expect(
        dialog(page).get_by_role("heading", name="Compose the email to send")
    ).to_be_visible()
    # Asked again, the form starts with the answer the source gave.
    await expect(dialog(page).get_by_label("Subject of the email")).to_have_value(
        "Quarterly numbers"
    )
    await expect(dialog(page).get_by_label("Recipient email address")).to_have_value(
        VALID_EMAIL
    )
    await fill_email(page, "bob@example.com")
    await dialog(page).get_by_role("button", name="Retry").click()
    await dialog(page).get_by_role("button", name="Yes").click()
    await expect(result).to_contain_text("bob@example.com")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")
    await expect(page).to_have_title("Tether")  # nothing waits, here or in the source
    await page.screenshot(path=artifacts / "session-forked.png", full_page=True)

    await page.get_by_role("link", name=session_id).click()
    await expect(page).to_have_url(re.compile(f"/sessions/{session_id}$"))
    await expect(result).to_contain_text(VALID_EMAIL)
    await expect(result).not_to_contain_text("bob@example.com")


async def test_several_open_requests_each_answerable(page: Page) -> None:
    """Two questions open at once are both listed and each answerable from the list; an
    expiring one counts down; "Later" puts the dialog aside."""
    session_id = await start_by_api(page, "two_questions", {"expires_in": 600})
    await page.goto(f"/sessions/{session_id}")
    waiting = page.get_by_role("region", name=re.compile("Waiting for you"))
    await expect(waiting.locator(".request-item")).to_have_count(2)
    await expect(waiting).to_contain_text("Keep going?")
    await expect(waiting).to_contain_text("Pick a colour")
    await expect(page).to_have_title("(2) Tether")
    state = page.get_by_role("region", name="State")
    await expect(state.locator(".value-row", has_text="Phase")).to_contain_text("asking")
    await expect(state.locator(".value-row", has_text="Open questions")).to_contain_text(
        "Pick a colour"
    )
    await expect(dialog(page)).to_have_count(1)
    await page.keyboard.press("Escape")
    await expect(dialog(page)).to_have_count(0)

    await waiting.locator(".request-item", has_text="Keep going?").get_by_role("button").click()
    timer = dialog(page).get_by_role("timer")
    await expect(timer).to_have_text(re.compile(r"Expires in (9|10):\d\d"))
    await expect(dialog(page).locator(".details")).to_have_text("Nobody minds.")
    await dialog(page).get_by_role("button", name="Yes").click()
    await expect(waiting.locator(".request-item")).to_have_count(1)
    await expect(page).to_have_title("(1) Tether")
    await expect(dialog(page)).to_have_count(0)

    await waiting.locator(".request-item", has_text="Pick a colour").get_by_role("button").click()
    await dialog(page).get_by_label("Favourite colour").select_option("green")
    await dialog(page).get_by_label("Tags, item 1", exact=True).fill("calm")
    await dialog(page).get_by_role("button", name="Add an item to Tags").click()
    await expect(dialog(page).get_by_label("Tags, item 2", exact=True)).to_be_focused()
    await page.keyboard.type("fast")
    await dialog(page).get_by_role("button", name="Submit").click()

    result = page.get_by_role("region", name="Result")
    await expect(result).to_contain_text("true")
    await expect(result).to_contain_text("green")
    await expect(result).to_contain_text("fast")
    await expect(state.locator(".value-row", has_text="Phase")).to_contain_text("done")
    await expect(page).to_have_title("Tether")


async def test_an_expired_request_leaves_the_list(page: Page) -> None:
    """A request that expires closes its dialog and leaves the list; its default applies."""
    session_id = await start_by_api(page, "two_questions", {"expires_in": 2})
    await page.goto(f"/sessions/{session_id}")
    waiting = page.get_by_role("region", name=re.compile("Waiting for you"))
    await expect(waiting.get_by_role("timer")).to_have_text(re.compile(r"Expires in 0:0\d"))
    await expect(waiting.locator(".request-item")).to_have_count(1)
    await expect(waiting).not_to_contain_text("Keep going?")
    await expect(dialog(page).get_by_role("heading", name="Pick a colour")).to_be_visible()
    await expect(page.get_by_text("A request expired without an answer.")).to_be_visible()


async def test_start_form_shows_the_hubs_field_errors(page: Page) -> None:
    """A start refused with 422 invalid_inputs shows each message next to its field."""
    await page.goto("/")
    await page.get_by_role("link", name="Start Order form").click()
    field = page.get_by_label("Who hears about the order")
    await expect(field).to_have_value("ops@example.com")  # the default, filled in
    await field.fill("nobody")  # the browser does not check addresses; the hub does
    await page.get_by_role("button", name="Start task").click()
    await expect(page.locator(".field-error")).to_have_text(re.compile("@-sign"))
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_be_focused()
    await expect(page).to_have_url(re.compile(r"/tasks/order_form$"))

    await field.fill("ana@example.com")
    await page.get_by_role("button", name="Start task").click()
    await expect(page).to_have_url(re.compile(r"/sessions/[^/]+$"))


async def test_an_exclusive_bound_is_hinted_and_checked_as_exclusive(page: Page) -> None:
    """gt=0 reads "more than 0" (not "at least 0"), and 0 is refused before sending."""
    await page.goto("/")
    await page.get_by_role("link", name="Start Two questions").click()
    label = page.locator("label", has_text="Seconds the first question stays open")
    await expect(label).to_contain_text("(more than 0)")
    field = page.get_by_label("Seconds the first question stays open")
    await field.fill("0")
    await page.get_by_role("button", name="Start task").click()
    await expect(page.locator(".field-error")).to_have_text("Must be more than 0.")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(page).to_have_url(re.compile(r"/tasks/two_questions$"))


async def open_order(page: Page, task: str) -> Locator:
    """Start ``task`` and return its input dialog once it shows."""
    session_id = await start_by_api(page, task, {})
    await page.goto(f"/sessions/{session_id}")
    form = dialog(page)
    await expect(form.get_by_role("heading")).to_be_visible()
    return form


async def fill_address(form: Locator) -> None:
    ship_to = form.get_by_role("group", name="Ship to")
    await ship_to.get_by_label("Street").fill("Harbour Rd 4")
    await ship_to.get_by_label("City").fill("Bergen")


async def test_a_required_choice_starts_unset_and_must_be_made(page: Page) -> None:
    """A required enum without a default starts on "Choose…": submitting it unset shows
    a field error on it (nothing is sent), and one picked goes through."""
    form = await open_order(page, "order_form")
    priority = form.get_by_label("Priority")
    await expect(priority).to_have_value("")
    await expect(priority.locator("option:checked")).to_have_text("Choose…")
    await form.get_by_label("Quantities, item 1", exact=True).fill("3")
    await fill_address(form)
    await form.get_by_role("button", name="Submit").click()
    await expect(form.locator(".field-error")).to_have_text(["Choose one of the options."])
    await expect(priority).to_have_attribute("aria-invalid", "true")
    await expect(priority).to_be_focused()
    await priority.select_option("low")
    await form.get_by_role("button", name="Submit").click()
    result = page.get_by_role("region", name="Result")
    await expect(result).to_contain_text("low")


async def test_lists_and_a_nested_model_filled_through_sub_forms(
    page: Page, artifacts: Path
) -> None:
    """list[int] rows, a list of models and a nested model are filled by keyboard in
    sub-forms (no JSON box), and the task gets them typed."""
    form = await open_order(page, "order_form")
    await expect(form.locator("textarea")).to_have_count(0)
    await form.get_by_label("Priority").select_option("high")
    await form.get_by_label("Quantities, item 1", exact=True).fill("3")
    await form.get_by_role("button", name="Add an item to Quantities").click()
    await expect(form.get_by_label("Quantities, item 2", exact=True)).to_be_focused()
    await page.keyboard.type("5")
    await form.get_by_role("button", name="Add an item to Quantities").click()
    await form.get_by_label("Quantities, item 3", exact=True).fill("9")
    await form.get_by_role("button", name="Remove Quantities, item 2").click()
    await form.get_by_role("button", name="Add an item to Order lines").click()
    line = form.get_by_role("group", name="Order lines, item 1")
    await expect(line.get_by_label("Article code")).to_be_focused()
    await page.keyboard.type("TEA-7")
    await line.get_by_label("How many").fill("4")
    await fill_address(form)
    await page.screenshot(path=artifacts / "order-sub-forms.png", full_page=True)
    await form.get_by_role("button", name="Submit").click()

    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")
    response = await page.request.get(f"/api/sessions/{page.url.rsplit('/', 1)[-1]}")
    assert (await response.json())["result"] == {
        "contact": "ops@example.com", "priority": "high", "quantities": [3, 9],
        "lines": [{"sku": "TEA-7", "qty": 4}],
        "ship_to": {"street": "Harbour Rd 4", "city": "Bergen"},
    }


async def test_the_hubs_error_on_a_sub_field_is_shown_on_that_sub_field(page: Page) -> None:
    """An answer refused at ``lines.1.sku`` (a check only the hub makes) marks that input
    of the second row, not the form or the list, and the request stays open."""
    form = await open_order(page, "order_form")
    await form.get_by_label("Priority").select_option("low")
    await form.get_by_label("Quantities, item 1", exact=True).fill("1")
    for index, sku in enumerate(["TEA-1", "milk"], start=1):
        await form.get_by_role("button", name="Add an item to Order lines").click()
        line = form.get_by_role("group", name=f"Order lines, item {index}")
        await line.get_by_label("Article code").fill(sku)
        await line.get_by_label("How many").fill("1")
    await fill_address(form)
    await form.get_by_role("button", name="Submit").click()

    second = form.get_by_role("group", name="Order lines, item 2").get_by_label("Article code")
    await expect(second).to_have_attribute("aria-invalid", "true")
    await expect(second).to_be_focused()
    await expect(form.locator(".field-error")).to_have_count(1)
    error = form.locator(".field-error")
    await expect(error).to_contain_text("String should match pattern")
    assert await second.get_attribute("aria-describedby") == await error.get_attribute("id")
    first = form.get_by_role("group", name="Order lines, item 1").get_by_label("Article code")
    await expect(first).not_to_have_attribute("aria-invalid", "true")

    await second.fill("MLK-2")
    await expect(form.locator(".field-error")).to_have_count(0)
    await form.get_by_role("button", name="Submit").click()
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")


async def test_an_initial_answer_prefills_the_form_below_its_details(page: Page) -> None:
    """``ctx.ask(initial=..., details=...)``: every input, rows and nested ones included,
    starts filled in, the details show above as markdown, and Submit sends them as is."""
    form = await open_order(page, "prefilled_order")
    await expect(form.locator(".details strong")).to_have_text("called back")
    await expect(form.get_by_label("Priority")).to_have_value("1")  # "high"
    await expect(form.get_by_label("Quantities, item 1", exact=True)).to_have_value("2")
    await expect(form.get_by_label("Quantities, item 2", exact=True)).to_have_value("7")
    line = form.get_by_role("group", name="Order lines, item 1")
    await expect(line.get_by_label("Article code")).to_have_value("TEA-1")
    await expect(line.get_by_label("How many")).to_have_value("2")
    ship_to = form.get_by_role("group", name="Ship to")
    await expect(ship_to.get_by_label("City")).to_have_value("Oslo")
    await form.get_by_role("button", name="Submit").click()
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "completed")
    response = await page.request.get(f"/api/sessions/{page.url.rsplit('/', 1)[-1]}")
    assert (await response.json())["result"] == PREFILLED_ORDER


async def test_connection_badge_while_the_hub_is_away(page: Page) -> None:
    """While the socket cannot connect the badge counts down to the next try; "Retry now"
    tries at once, and the view fills in when the hub is back."""
    hub_back = False

    async def gate(ws: WebSocketRoute) -> None:
        if hub_back:
            ws.connect_to_server()
        else:
            await ws.close(code=1012, reason="hub restarting")

    await page.route_web_socket(re.compile(r"/ws/sessions/"), gate)
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto(f"/sessions/{session_id}")
    badge = page.locator(".conn")
    await expect(badge).to_have_attribute("data-phase", "waiting")
    # Backoff grows: wait for a wait of 2 s or more, so the button stays up to be clicked.
    await expect(badge).to_contain_text(re.compile(r"Reconnecting in [2-9] s"))
    await expect(dialog(page)).to_have_count(0)

    hub_back = True
    await page.get_by_role("button", name="Retry now").click()
    await expect(badge).to_have_attribute("data-phase", "open")
    await expect(badge).to_have_text("Connected")
    await expect(
        dialog(page).get_by_role("heading", name="Compose the email to send")
    ).to_be_visible()


async def test_a_socket_refused_4401_says_not_signed_in_and_stops(
    context: BrowserContext, page: Page
) -> None:
    """The identity cookie is gone when the app reconnects: the hub refuses the socket
    with 4401, the badge says "Not signed in" and the app does not try again."""
    opened: list[str] = []
    routes: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        opened.append(ws.url)
        ws.connect_to_server()
        routes.append(ws)

    await page.route_web_socket(re.compile(r"/ws/sessions/"), through)
    session_id = await start_by_api(page, "email_demo", {"step_seconds": 0})
    await page.goto(f"/sessions/{session_id}")
    badge = page.locator(".conn")
    await expect(badge).to_have_attribute("data-phase", "open")
    await context.clear_cookies()
    await routes[0].close(code=1012, reason="hub restarting")
    await expect(badge).to_have_text("Not signed in")
    await expect(badge).to_have_attribute("data-phase", "closed")
    await expect(page.get_by_role("button", name="Retry now")).to_have_count(0)
    assert len(opened) == 2, opened


async def test_the_hub_serves_the_build(page: Page) -> None:
    """App routes get index.html (never cached); hashed assets are cached for good."""
    response = await page.request.get("/sessions/anything")
    assert response.status == 200
    assert response.headers["cache-control"] == "no-cache"
    html = await response.text()
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
    assert assets, html
    for path in assets:
        asset = await page.request.get(path)
        assert asset.status == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
