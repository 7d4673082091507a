"""The metrics core without a hub: bounded labels, one registry per hub, what a scrape
shows, and the metrics token's check."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from tether.closecodes import CloseCode
from tether.metrics import HubMetrics, channel_kind, epoch_of
from tether.metrics_api import bearer_matches

TOKEN = "0123456789abcdef0123"


def samples(metrics: HubMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render()[0].decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def test_task_labels_are_the_catalogue_and_other() -> None:
    metrics = HubMetrics(tasks=("pay", "ship"))
    assert metrics.for_task("pay").task == "pay"
    assert metrics.for_task("x" * 500).task == "other"
    assert metrics.for_task("another") is metrics.for_task("x" * 500)
    metrics.count_sessions_with(lambda: {
        ("pay", "waiting"): 2, ("gone", "running"): 1, ("lost", "running"): 3,
    })
    found = samples(metrics)
    assert found[("tether_sessions", frozenset({("task", "pay"), ("status", "waiting")}))] == 2
    assert found[("tether_sessions", frozenset({("task", "other"), ("status", "running")}))] == 4
    assert found[("tether_sessions", frozenset({("task", "ship"), ("status", "pending")}))] == 0
    tasks = {dict(labels).get("task") for _, labels in found}
    assert tasks - {None} == {"pay", "ship", "other"}


def test_kinds_channels_and_codes_are_bounded() -> None:
    metrics = HubMetrics(tasks=("pay",))
    metrics.for_task("pay").waited("made-up kind", "answered", 3.0)
    metrics.delivery("webhook:wh_0123456789abcdef", "delivered")
    metrics.delivery("email", "retrying")
    metrics.delivery("carrier-pigeon", "failed")
    metrics.closed(CloseCode.TOO_SLOW)
    found = samples(metrics)
    wait = frozenset({("task", "pay"), ("kind", "other"), ("outcome", "answered")})
    assert found[("tether_request_wait_seconds_count", wait)] == 1
    assert found[("tether_request_wait_seconds_sum", wait)] == 3.0
    deliveries = {dict(labels)["channel"] for name, labels in found
                  if name == "tether_notification_deliveries_total"}
    assert deliveries == {"webhook", "email", "other"}
    assert found[("tether_websocket_closes_total", frozenset({("code", "4008")}))] == 1
    assert channel_kind("webhook:wh_x") == "webhook" and channel_kind("email") == "email"


def test_each_hub_counts_in_its_own_registry() -> None:
    first, second = HubMetrics(tasks=("pay",)), HubMetrics(tasks=("pay",))
    first.events_delivered += 5
    first.for_task("pay").appended.inc(3)
    assert samples(first)[("tether_events_delivered_total", frozenset())] == 5
    assert samples(second)[("tether_events_delivered_total", frozenset())] == 0
    appended = ("tether_events_appended_total", frozenset({("task", "pay")}))
    assert samples(first)[appended] == 3 and samples(second)[appended] == 0


def test_the_exposition_follows_accept() -> None:
    metrics = HubMetrics()
    body, content_type = metrics.render("")
    assert content_type.startswith("text/plain; version=0.0.4") and b"tether_hub_info" in body
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_times_that_are_not_the_hubs_give_none() -> None:
    moment = datetime(2026, 11, 21, 23, 30, 0, 123000, tzinfo=UTC)
    assert epoch_of("2026-11-21T23:30:00.123Z") == moment.timestamp()
    assert epoch_of("") is None and epoch_of("yesterday") is None


def test_the_metrics_token_is_one_exact_bearer_header() -> None:
    assert bearer_matches([f"Bearer {TOKEN}"], TOKEN)
    assert bearer_matches([f"bearer  {TOKEN} "], TOKEN)
    assert not bearer_matches([f"Bearer {TOKEN}x"], TOKEN)
    assert not bearer_matches([f"Bearer {TOKEN[:-1]}"], TOKEN)
    assert not bearer_matches([f"Basic {TOKEN}"], TOKEN)
    assert not bearer_matches([TOKEN], TOKEN)
    assert not bearer_matches([f"Bearer {TOKEN}", f"Bearer {TOKEN}"], TOKEN)
    assert not bearer_matches([], TOKEN)
    assert not bearer_matches(["Bearer \udcff"], TOKEN)
