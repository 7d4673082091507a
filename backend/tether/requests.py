"""Open requests as the store keeps them, and the check every answer goes through.

Any hub may receive an answer, so everything needed to validate it travels with the
request: its kind, its fields and (for pydantic models) the import path of the model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tether.errors import InvalidValue
from tether.forms import field_errors, resolve_model
from tether.messages import Request


class PendingRequest(BaseModel):
    """An open request plus what the hub needs to validate its answer."""

    model_config = ConfigDict(frozen=True)

    request: Request
    model_ref: str | None = None
    journal_key: str | None = None


def validate_answer(
    pending: PendingRequest, value: Any, *, model: type[BaseModel] | None = None
) -> Any:
    """Check ``value`` against the request and return it in the form that is recorded.

    Input answers are validated with the request's model (``model`` when the caller holds
    the live class) and recorded as the model's JSON dump; confirmations and retry
    decisions must be booleans.

    Raises:
        InvalidValue: with field errors, when the value does not fit.
    """
    request = pending.request
    if request.kind in ("confirm", "retry"):
        if not isinstance(value, bool):
            raise InvalidValue({"value": "Answer with true or false."})
        return value
    if not isinstance(value, dict):
        raise InvalidValue({"__root__": "Answer with an object of field values."})
    validator = model or resolve_model(pending.model_ref, request.fields or [])
    try:
        return validator.model_validate(value).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidValue(field_errors(exc)) from exc
