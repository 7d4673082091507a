"""The wire models: numbered frames, and client frames that refuse what they do not know."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from tether.messages import (
    CLIENT_ADAPTER,
    CLIENT_FRAME_TYPES,
    EVENT_ADAPTER,
    ConfirmFrame,
    ErrorInfo,
    FieldSpec,
    ProgressEvent,
    RequestUserInputEvent,
    Session,
    StatusEvent,
    StreamEvent,
    UserInputFrame,
    event_body,
    frame_with_seq,
    now_iso,
    seen_by,
    seq_of,
)


def test_event_body_has_no_seq_and_starts_with_ts() -> None:
    body = event_body(StreamEvent(seq=99, ts="2026-01-01T00:00:00.000Z", content="x"))
    assert body == '{"ts":"2026-01-01T00:00:00.000Z","type":"stream","content":"x"}'


@pytest.mark.parametrize("seq", [1, 9, 10, 12345, 2**53])
def test_frame_with_seq_and_seq_of_round_trip(seq: int) -> None:
    body = event_body(StreamEvent(seq=0, ts=now_iso(), content="a,b\n👋"))
    frame = frame_with_seq(seq, body)
    assert seq_of(frame) == seq
    assert frame == '{"seq":' + str(seq) + "," + body[1:]
    event = EVENT_ADAPTER.validate_json(frame)
    assert isinstance(event, StreamEvent)
    assert (event.seq, event.content) == (seq, "a,b\n👋")
    assert "\n" not in frame


def test_a_frame_is_the_models_full_json() -> None:
    event = ProgressEvent(seq=7, ts=now_iso(), done=1, total=5, label="drafting")
    assert json.loads(frame_with_seq(7, event_body(event))) == json.loads(
        event.model_dump_json()
    )


def test_optional_fields_are_left_out_when_none() -> None:
    body = event_body(ProgressEvent(seq=0, ts="t", done=1, total=2))
    assert "label" not in json.loads(body)


def test_schema_is_serialised_by_its_alias() -> None:
    event = RequestUserInputEvent(
        seq=0, ts="t", request_id="r", prompt="p",
        fields=[FieldSpec(name="a", description="A", type="string", required=True)],
        schema_={"type": "object"},
    )
    data = json.loads(event_body(event))
    assert data["schema"] == {"type": "object"} and "schema_" not in data


def test_now_iso_is_utc_with_milliseconds() -> None:
    stamp = now_iso()
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-21T23:30:00.123Z")


def test_every_client_frame_type_validates() -> None:
    frames: list[dict[str, Any]] = [
        {"type": "user_input", "request_id": "r", "values": {"a": 1}, "ref": "1"},
        {"type": "user_input", "values": {}},
        {"type": "confirm", "value": True},
        {"type": "retry", "request_id": "r", "value": False},
        {"type": "cancel"},
        {"type": "ping", "ref": "x"},
    ]
    parsed = [CLIENT_ADAPTER.validate_python(f) for f in frames]
    assert {p.type for p in parsed} == CLIENT_FRAME_TYPES
    assert isinstance(parsed[0], UserInputFrame) and parsed[0].values == {"a": 1}
    assert isinstance(parsed[2], ConfirmFrame) and parsed[2].request_id is None


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "ping", "extra": 1},
        {"type": "cancel", "reason": "x"},
        {"type": "confirm", "value": True, "values": {}},
        {"type": "user_input", "values": {}, "value": True},
        {"type": "confirm"},
        {"type": "user_input"},
        {"type": "status", "status": "running"},
        {"type": "nope"},
        {"value": True},
        {"type": "ping", "ref": "x" * 129},
    ],
)
def test_client_frames_refuse_extra_missing_or_wrong_fields(frame: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CLIENT_ADAPTER.validate_python(frame)


@pytest.mark.parametrize("value", ["yes", "off", 1, "0"])
def test_confirm_and_retry_frames_take_only_json_booleans(value: Any) -> None:
    for kind in ("confirm", "retry"):
        with pytest.raises(ValidationError):
            CLIENT_ADAPTER.validate_python({"type": kind, "value": value})


def test_client_frames_from_json_refuse_extra_fields() -> None:
    with pytest.raises(ValidationError):
        CLIENT_ADAPTER.validate_json('{"type":"retry","value":true,"sneaky":1}')


def test_status_events_refuse_unknown_statuses() -> None:
    with pytest.raises(ValidationError):
        StatusEvent(seq=1, ts="t", status="paused")


def test_only_the_owner_is_shown_a_failures_traceback() -> None:
    """seen_by: the one place that drops what only a session's owner may see."""
    failed = Session(
        id="s", task="t", status="failed", owner="u_owner", created_at="c", updated_at="c",
        inputs={}, state={}, pending=[], result=None, last_seq=3,
        error=ErrorInfo(type="KeyError", message="'x'", traceback="Traceback ...\nKeyError"),
    )
    assert seen_by(failed, "u_owner") is failed
    other = seen_by(failed, "u_other")
    assert other.error is not None and other.error.traceback is None
    assert (other.error.type, other.error.message) == ("KeyError", "'x'")
    assert "traceback" not in json.loads(other.model_dump_json())["error"]
    assert other.model_copy(update={"error": failed.error}) == failed  # nothing else differs
