"""Forms: pydantic models and field lists turned into what a browser renders, and back.

A task asks for input with a pydantic model or with a list of fields. Either way the
request on the wire carries ``fields`` (for simple form renderers) and a JSON ``schema``;
the hub validates answers with pydantic, so an answer is refused with the same field
errors whichever hub receives it. A hub that is not running the session rebuilds the
validator from the request alone (:func:`resolve_model`): the model class by import path
when it is importable, otherwise a model rebuilt from the fields.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    create_model,
)

from tether.errors import FieldErrors
from tether.messages import FieldSpec, FieldType, dump_json

FieldsLike = Sequence[FieldSpec | Mapping[str, Any]]
ModelOrFields = type[BaseModel] | FieldsLike

_PY_TYPES: dict[str, Any] = {
    "string": str,
    "text": str,
    "password": SecretStr,  # masked wherever people or logs see the answer
    "email": EmailStr,
    "integer": int,
    "number": float,
    "boolean": bool,
    "date": dt.date,
    "datetime": dt.datetime,
    "time": dt.time,
    "string_list": list[str],
    "object": dict[str, Any],
}

_FORMATS: dict[str, FieldType] = {
    "email": "email",
    "date": "date",
    "date-time": "datetime",
    "time": "time",
    "password": "password",
    "textarea": "text",
}


@dataclass(frozen=True, slots=True)
class Form:
    """A model with the ``fields`` and ``schema`` that describe it to a browser."""

    model: type[BaseModel]
    fields: list[FieldSpec]
    schema: dict[str, Any]
    model_ref: str | None
    returns_model: bool  # True: the task gets a model instance; False: a plain dict

    @property
    def has_secrets(self) -> bool:
        """Whether an answer holds secret fields (``SecretStr``: ``writeOnly`` in JSON
        Schema), which are masked in what people see and sealed for the task."""
        return _has_write_only(self.schema)


def _has_write_only(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("writeOnly") is True or any(_has_write_only(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_write_only(v) for v in node)
    return False


def form_for(spec: ModelOrFields) -> Form:
    """Build the form for a pydantic model class or a list of field descriptions."""
    if isinstance(spec, type) and issubclass(spec, BaseModel):
        schema = spec.model_json_schema()
        return Form(spec, fields_from_schema(schema), schema, model_ref(spec), True)
    fields = [f if isinstance(f, FieldSpec) else FieldSpec.model_validate(f) for f in spec]
    model = model_from_fields(fields)
    return Form(model, fields, model.model_json_schema(), None, False)


def model_ref(model: type[BaseModel]) -> str | None:
    """``module:QualName`` when the class can be imported back by that name."""
    if "<locals>" in model.__qualname__:
        return None
    return f"{model.__module__}:{model.__qualname__}"


def resolve_model(ref: str | None, fields: Sequence[FieldSpec]) -> type[BaseModel]:
    """The validator for a request: its class by ``ref`` if importable, else rebuilt."""
    if ref:
        module_name, _, qualname = ref.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            obj = None
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            return obj
    return model_from_fields(fields)


# FieldSpec attribute -> (pydantic constraint, JSON Schema keyword of a scalar, of an array)
_BOUNDS: tuple[tuple[str, str, str, str], ...] = (
    ("minimum", "ge", "minimum", "minimum"),
    ("maximum", "le", "maximum", "maximum"),
    ("exclusive_minimum", "gt", "exclusiveMinimum", "exclusiveMinimum"),
    ("exclusive_maximum", "lt", "exclusiveMaximum", "exclusiveMaximum"),
    ("multiple_of", "multiple_of", "multipleOf", "multipleOf"),
    ("min_length", "min_length", "minLength", "minItems"),
    ("max_length", "max_length", "maxLength", "maxItems"),
)


def model_from_fields(fields: Sequence[FieldSpec]) -> type[BaseModel]:
    """A pydantic model equivalent to a field list (used for field-list asks)."""
    definitions: dict[str, Any] = {}
    for f in fields:
        py_type: Any = Literal[tuple(f.enum)] if f.enum else _py_type(f)
        constraints: dict[str, Any] = {"description": f.description}
        for attr, constraint, _, _ in _BOUNDS:
            if getattr(f, attr) is not None:
                constraints[constraint] = getattr(f, attr)
        fmt = {"email": "email", "text": "textarea", "password": "password"}.get(f.type)
        if fmt is not None:  # keeps the field's type through a schema round trip
            constraints["json_schema_extra"] = {"format": fmt}
        if f.required:
            definitions[f.name] = (py_type, Field(..., **constraints))
        else:
            definitions[f.name] = (py_type | None, Field(f.default, **constraints))
    model = create_model(
        "Answer", __config__=ConfigDict(extra="forbid"), **definitions
    )
    return cast(type[BaseModel], model)


def _py_type(f: FieldSpec) -> Any:
    if f.type == "list":
        item = _PY_TYPES.get(f.item_type, Any) if f.item_type else Any
        return list[item]  # type: ignore[valid-type]  # built at run time
    return _PY_TYPES[f.type]


def fields_from_schema(schema: Mapping[str, Any]) -> list[FieldSpec]:
    """Flatten a model's JSON Schema into the simple field list of the protocol.

    Nested models and lists of them stay one field each (``object``, ``list``); the
    schema, which travels beside the fields, describes their parts.
    """
    required = set(schema.get("required", []))
    out: list[FieldSpec] = []
    for name, prop in schema.get("properties", {}).items():
        prop = _unwrap_optional(prop, schema)
        kind = _field_type(prop)
        extra: dict[str, Any] = {}
        if "default" in prop:
            extra["default"] = prop["default"]
        if "enum" in prop:
            extra["enum"] = list(prop["enum"])
        array = prop.get("type") == "array"
        for attr, _, scalar_key, array_key in _BOUNDS:
            key = array_key if array else scalar_key
            if key in prop:
                extra[attr] = prop[key]
        if kind == "list":
            extra["item_type"] = _field_type(_unwrap_optional(prop.get("items", {}), schema))
        out.append(
            FieldSpec(
                name=name,
                description=prop.get("description") or prop.get("title") or name,
                type=kind,
                required=name in required,
                **extra,
            )
        )
    return out


def _unwrap_optional(prop: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """``X | None`` appears as anyOf[X, null]; $refs point at enums and models: show the X.

    A definition's title is its class name, not the field's label: it is left out.
    """
    merged = dict(prop)
    variants = [v for v in prop.get("anyOf", []) if v.get("type") != "null"]
    if len(variants) == 1:
        merged.pop("anyOf")
        merged = {**variants[0], **merged}
    ref = merged.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = dict(root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}))
        target.pop("title", None)
        merged = {**target, **merged}
    return merged


def _field_type(prop: Mapping[str, Any]) -> FieldType:
    kind = prop.get("type")
    if kind == "string":
        return _FORMATS.get(prop.get("format", ""), "string")
    if kind in ("integer", "number", "boolean"):
        return cast(FieldType, kind)
    if kind == "array":
        return "string_list" if prop.get("items", {}).get("type") == "string" else "list"
    if "enum" in prop:
        return "string"
    return "object"


def initial_values(
    form: Form, initial: Mapping[str, Any] | BaseModel | None
) -> dict[str, Any] | None:
    """What ``ctx.ask(..., initial=)`` pre-fills, as the JSON the request carries.

    Raises:
        TypeError: ``initial`` is not a mapping or a model instance, or a value cannot
            be stored as JSON (it travels in the request and its event).
        ValueError: ``initial`` names a field the form does not have.
    """
    if initial is None:
        return None
    if isinstance(initial, BaseModel):
        data: dict[str, Any] = initial.model_dump(mode="json")
    elif isinstance(initial, Mapping):
        data = dict(initial)
    else:
        raise TypeError(
            f"initial= must map field names to values, not {type(initial).__name__}"
        )
    unknown = sorted(set(map(str, data)) - {f.name for f in form.fields})
    if unknown:
        raise ValueError(f"initial= names fields the form does not have: {unknown}")
    try:
        parsed: dict[str, Any] = json.loads(dump_json(data))
    except TypeError as exc:
        raise TypeError(f"initial= is {exc}") from exc
    return parsed


def field_errors(exc: ValidationError) -> FieldErrors:
    """pydantic's errors as ``{"field.path": "message"}``, one message per field."""
    errors: FieldErrors = {}
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "__root__"
        errors.setdefault(loc, err["msg"])
    return errors
