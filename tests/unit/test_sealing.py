"""Sealing secret answers with the hub secret."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretStr

from tether.errors import SealBroken
from tether.forms import form_for
from tether.messages import Request
from tether.requests import PendingRequest, answer_record, validate_answer
from tether.sealing import Sealer


class Login(BaseModel):
    account: str
    password: SecretStr


def test_a_sealed_text_opens_with_the_same_secret_only() -> None:
    token = Sealer("one").seal("hunter2")
    assert "hunter2" not in token
    assert Sealer("one").open(token) == "hunter2"
    with pytest.raises(SealBroken):
        Sealer("two").open(token)
    with pytest.raises(SealBroken):
        Sealer("one").open(token[:-4] + "AAAA")


def test_an_answer_with_secret_fields_is_masked_and_sealed() -> None:
    form = form_for(Login)
    assert form.has_secrets and not form_for([{"name": "a", "description": "A",
                                               "type": "string", "required": True}]).has_secrets
    pending = PendingRequest(
        request=Request(request_id="r", kind="input", prompt="p", fields=form.fields,
                        schema_=form.schema, created_at="t"),
        model_ref="tests.unit.test_sealing:Login", secret=True,
    )
    validated = validate_answer(pending, {"account": "ada", "password": "hunter2"})
    assert validated.public == {"account": "ada", "password": "**********"}
    assert validated.full == {"account": "ada", "password": "hunter2"}
    sealer = Sealer("s")
    record = answer_record(validated, by="u", at="t", sealer=sealer)
    assert "hunter2" not in record.to_json()
    assert record.value == validated.public and record.sealed is not None
    assert sealer.open(record.sealed) == '{"account": "ada", "password": "hunter2"}'
