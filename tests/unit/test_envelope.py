"""The one place errors take their wire shape: the HTTP envelope, the WS error frame and
the close message."""

from __future__ import annotations

import json

from tether.closecodes import CloseCode
from tether.envelope import (
    MAX_CLOSE_REASON_BYTES,
    close_message,
    error_frame,
    error_response,
    tether_error_response,
)
from tether.errors import InvalidValue, NotAuthenticated, StoreUnavailable, UnknownSession


def test_an_http_error_is_the_envelope_with_its_status() -> None:
    response = tether_error_response(InvalidValue({"age": "too low"}))
    assert response.status_code == 422
    assert response.media_type == "application/json"
    assert json.loads(response.body) == {"error": {
        "code": "invalid_value", "message": "The answer is not valid.",
        "fields": {"age": "too low"},
    }}


def test_an_http_error_without_fields_leaves_them_out() -> None:
    response = error_response("not_found", "No API route /api/x.", status=404,
                              headers={"x-a": "1"})
    assert json.loads(response.body) == {"error": {"code": "not_found",
                                                   "message": "No API route /api/x."}}
    assert response.headers["x-a"] == "1"


def test_a_ws_error_frame_carries_ref_and_fields_only_when_given() -> None:
    assert json.loads(error_frame("unknown_type", "Unknown.")) == {
        "type": "error", "code": "unknown_type", "message": "Unknown."}
    assert json.loads(error_frame("invalid_value", "Bad.", ref="c1", fields={"x": "y"})) == {
        "type": "error", "code": "invalid_value", "message": "Bad.", "ref": "c1",
        "fields": {"x": "y"}}


def test_a_close_reason_is_cut_to_what_a_close_frame_holds_at_a_character() -> None:
    message = close_message(CloseCode.UNKNOWN_SESSION, "é" * 100)
    assert message["code"] == 4404
    reason = message["reason"]
    assert len(reason.encode()) <= MAX_CLOSE_REASON_BYTES
    assert reason.endswith("...") and set(reason[:-3]) == {"é"}
    assert close_message(CloseCode.TOO_SLOW, "short")["reason"] == "short"


def test_errors_that_end_a_socket_name_their_close_code() -> None:
    assert NotAuthenticated.close_code is CloseCode.NOT_AUTHENTICATED
    assert UnknownSession.close_code is CloseCode.UNKNOWN_SESSION
    assert StoreUnavailable.close_code is CloseCode.TRY_AGAIN_LATER
