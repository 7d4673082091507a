"""validate_answer: the one check every answer goes through, on whichever hub receives it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from tether.errors import InvalidValue
from tether.forms import form_for
from tether.messages import FieldSpec, Request, RequestKind, now_iso
from tether.requests import PendingRequest, validate_answer


class Email(BaseModel):
    subject: str
    count: int = Field(1, ge=1)


def pending(kind: RequestKind) -> PendingRequest:
    return PendingRequest(
        request=Request(request_id="r1", kind=kind, prompt="?", created_at=now_iso())
    )


def input_request(model_ref: str | None, fields: list[FieldSpec]) -> PendingRequest:
    request = Request(request_id="r1", kind="input", prompt="?", created_at=now_iso(),
                      fields=fields)
    return PendingRequest(request=request, model_ref=model_ref)


@pytest.mark.parametrize("kind", ["confirm", "retry"])
@pytest.mark.parametrize("value", [True, False])
def test_confirm_and_retry_take_booleans(kind: RequestKind, value: bool) -> None:
    assert validate_answer(pending(kind), value).full is value


@pytest.mark.parametrize("kind", ["confirm", "retry"])
@pytest.mark.parametrize("value", [1, 0, "true", None, {"value": True}])
def test_confirm_and_retry_refuse_anything_but_a_boolean(kind: RequestKind, value: Any) -> None:
    with pytest.raises(InvalidValue) as info:
        validate_answer(pending(kind), value)
    assert info.value.fields == {"value": "Answer with true or false."}


def test_input_answers_are_validated_and_recorded_as_the_models_json() -> None:
    form = form_for(Email)
    request = input_request(form.model_ref, form.fields)
    assert validate_answer(request, {"subject": "hi", "count": "3"}).full == {
        "subject": "hi", "count": 3
    }
    assert validate_answer(request, {"subject": "hi"}).full == {"subject": "hi", "count": 1}


def test_input_answers_get_field_errors() -> None:
    form = form_for(Email)
    request = input_request(form.model_ref, form.fields)
    with pytest.raises(InvalidValue) as info:
        validate_answer(request, {"count": 0})
    assert info.value.fields is not None
    assert set(info.value.fields) == {"subject", "count"}


@pytest.mark.parametrize("value", [True, "text", ["subject"], None])
def test_an_input_answer_must_be_an_object(value: Any) -> None:
    with pytest.raises(InvalidValue) as info:
        validate_answer(input_request(None, []), value)
    assert info.value.fields == {"__root__": "Answer with an object of field values."}


def test_a_hub_without_the_class_validates_with_the_fields() -> None:
    fields = form_for(Email).fields
    request = input_request("no_such_module_xyz:Email", fields)
    answer = validate_answer(request, {"subject": "s", "count": 2})
    assert answer.full == {"subject": "s", "count": 2}
    with pytest.raises(InvalidValue) as info:
        validate_answer(request, {"subject": "s", "count": 0})
    assert info.value.fields is not None and set(info.value.fields) == {"count"}


def test_the_live_model_wins_over_the_stored_fields() -> None:
    class Strict(BaseModel):
        subject: str = Field(max_length=2)

    request = input_request(None, form_for(Email).fields)
    with pytest.raises(InvalidValue) as info:
        validate_answer(request, {"subject": "too long"}, model=Strict)
    assert info.value.fields is not None and set(info.value.fields) == {"subject"}
