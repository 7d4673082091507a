"""The wire models: numbered frames, and client frames that refuse what they do not know."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from tether.messages import (
    CLIENT_ADAPTER,
    CLIENT_FRAME_TYPES,
    EVENT_ADAPTER,
    ConfirmFrame,
    FieldSpec,
    MarkdownEvent,
    ProgressEvent,
    RequestUserInputEvent,
    StatusEvent,
    StreamEvent,
    UserInputFrame,
    event_body,
    frame_with_seq,
    now_iso,
    seq_of,
    text_event_body,
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


def test_now_iso_tells_the_time_of_the_call() -> None:
    """Made once per millisecond, the stamp still is the time of the call, to the ms."""
    for _ in range(2000):
        now = datetime.now(UTC)
        before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # floored to the ms
        stamp = now_iso()
        after = datetime.now(UTC)
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before <= parsed <= after, (before, stamp, after)


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


TRICKY_TEXT = (
    'héllo 👋🏽 👩‍👩‍👧 日本語 עברית e\u0301 \n line\r\n tab\tnul\x00 bell\x07 \x7f \u2028 \u2029'
    ' "quoted" back\\slash {"not":"json"} </script> \ufeff'
)


@pytest.mark.parametrize("kind", ["stream", "markdown"])
@pytest.mark.parametrize("content", ["", "plain", TRICKY_TEXT, "x" * 10_000])
def test_text_event_body_is_the_models_body(
    kind: Literal["stream", "markdown"], content: str
) -> None:
    """ctx.stream's fast body is exactly what the model would have made."""
    ts = "2026-11-21T23:30:00.123Z"
    model = StreamEvent if kind == "stream" else MarkdownEvent
    assert text_event_body(kind, ts, content) == event_body(model(seq=0, ts=ts, content=content))


def test_text_event_body_refuses_what_the_model_refuses() -> None:
    with pytest.raises(PydanticSerializationError):
        event_body(StreamEvent(seq=0, ts="t", content="a\ud800b"))
    with pytest.raises(PydanticSerializationError):
        text_event_body("stream", "t", "a\ud800b")

