"""Forms: JSON Schema -> field lists for browsers, field lists -> validators, and back."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, EmailStr, Field, SecretStr, ValidationError

from tether.forms import (
    field_errors,
    fields_from_schema,
    form_for,
    model_from_fields,
    model_ref,
    resolve_model,
)
from tether.messages import FieldSpec


class Color(enum.StrEnum):
    red = "red"
    blue = "blue"


class Inner(BaseModel):
    x: int


class Everything(BaseModel):
    """One field of every FieldType, required and optional."""

    s: str = Field(description="a string")
    body: str = Field(json_schema_extra={"format": "textarea"})
    pw: SecretStr
    email: EmailStr
    n: int = Field(ge=1, le=10)
    x: float = 1.5
    b: bool = False
    d: dt.date
    when: dt.datetime
    t: dt.time
    tags: list[str] = []
    obj: dict[str, Any] = {}
    inner: Inner | None = None
    color: Color = Color.red
    opt_color: Color | None = None
    lit: Literal["a", "b"] = "a"
    opt_n: int | None = Field(None, ge=0, le=5)
    opt_s: str | None = None


class Outer:
    class Nested(BaseModel):
        name: str


GOOD: dict[str, Any] = {
    "s": "hi", "body": "line 1\nline 2", "pw": "hunter2", "email": "a@example.com", "n": 3,
    "x": 2.0, "b": True, "d": "2026-01-02", "when": "2026-01-02T03:04:05Z", "t": "10:30:00",
    "tags": ["p", "q"], "obj": {"k": 1}, "inner": {"x": 1}, "color": "blue", "opt_color": "red",
    "lit": "b", "opt_n": 5, "opt_s": "maybe",
}
REQUIRED_ONLY = {k: GOOD[k] for k in ("s", "body", "pw", "email", "n", "d", "when", "t")}


def by_name(fields: list[FieldSpec]) -> dict[str, FieldSpec]:
    return {f.name: f for f in fields}


def test_fields_from_schema_maps_every_field_type() -> None:
    fields = by_name(fields_from_schema(Everything.model_json_schema()))
    assert {name: f.type for name, f in fields.items()} == {
        "s": "string", "body": "text", "pw": "password", "email": "email", "n": "integer",
        "x": "number", "b": "boolean", "d": "date", "when": "datetime", "t": "time",
        "tags": "string_list", "obj": "object", "inner": "object", "color": "string",
        "opt_color": "string", "lit": "string", "opt_n": "integer", "opt_s": "string",
    }
    assert list(fields) == list(Everything.model_fields)  # declaration order is kept


def test_fields_from_schema_required_and_defaults() -> None:
    fields = by_name(fields_from_schema(Everything.model_json_schema()))
    required = {name for name, f in fields.items() if f.required}
    assert required == set(REQUIRED_ONLY)
    assert (fields["x"].default, fields["b"].default, fields["tags"].default) == (1.5, False, [])
    assert fields["color"].default == "red"
    assert fields["s"].default is None and "default" not in fields["s"].model_dump()


def test_fields_from_schema_enums_including_optional_ones() -> None:
    fields = by_name(fields_from_schema(Everything.model_json_schema()))
    assert fields["color"].enum == ["red", "blue"]
    assert fields["opt_color"].enum == ["red", "blue"]
    assert fields["lit"].enum == ["a", "b"]
    assert fields["s"].enum is None


def test_fields_from_schema_minimum_and_maximum_also_when_optional() -> None:
    fields = by_name(fields_from_schema(Everything.model_json_schema()))
    assert (fields["n"].minimum, fields["n"].maximum) == (1, 10)
    assert (fields["opt_n"].minimum, fields["opt_n"].maximum) == (0, 5)
    assert fields["x"].minimum is None and fields["x"].maximum is None


def test_fields_from_schema_descriptions_fall_back_to_title_then_name() -> None:
    fields = by_name(fields_from_schema(Everything.model_json_schema()))
    assert fields["s"].description == "a string"
    assert fields["opt_n"].description == "Opt N"
    bare = fields_from_schema({"properties": {"raw": {"type": "string"}}})
    assert bare[0].description == "raw" and not bare[0].required


def test_model_from_fields_validates_like_the_original_model() -> None:
    rebuilt = model_from_fields(fields_from_schema(Everything.model_json_schema()))
    for values in (GOOD, REQUIRED_ONLY):
        original = Everything.model_validate(values).model_dump(mode="json")
        copy = rebuilt.model_validate(values).model_dump(mode="json")
        assert {k: v for k, v in copy.items() if k != "pw"} == {
            k: v for k, v in original.items() if k != "pw"
        }
    bad: dict[str, Any] = {
        "email": "not-an-email", "n": 11, "opt_n": -1, "color": "green", "lit": "c",
        "d": "yesterday", "tags": "p",
    }
    for name, value in bad.items():
        for model in (Everything, rebuilt):
            with pytest.raises(ValidationError) as info:
                model.model_validate({**GOOD, name: value})
            assert set(field_errors(info.value)) == {name}, (model, name)


def test_model_from_fields_requires_required_fields_and_forbids_unknown_ones() -> None:
    rebuilt = model_from_fields([
        FieldSpec(name="title", description="Title", type="string", required=True),
        FieldSpec(name="count", description="Count", type="integer", required=False, default=2),
    ])
    assert rebuilt.model_validate({"title": "t"}).model_dump() == {"title": "t", "count": 2}
    with pytest.raises(ValidationError) as info:
        rebuilt.model_validate({"count": 1, "extra": True})
    assert set(field_errors(info.value)) == {"title", "extra"}


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ({"type": "email"}, "a@b.example", "nope"),
        ({"type": "integer", "minimum": 1, "maximum": 3}, 3, 4),
        ({"type": "number", "minimum": 0.5}, 0.5, 0.4),
        ({"type": "boolean"}, True, "perhaps"),
        ({"type": "string", "enum": ["x", "y"]}, "y", "z"),
        ({"type": "integer", "enum": [1, 2]}, 2, 3),
        ({"type": "string_list"}, ["a"], "a"),
        ({"type": "object"}, {"a": 1}, [1]),
        ({"type": "date"}, "2026-03-04", "March"),
        ({"type": "datetime"}, "2026-03-04T05:06:07Z", "soon"),
        ({"type": "time"}, "05:06", "noonish"),
        ({"type": "text"}, "long\ntext", 5),
        ({"type": "password"}, "secret", None),
    ],
)
def test_model_from_fields_enforces_each_field_type(
    spec: dict[str, Any], good: Any, bad: Any
) -> None:
    model = model_from_fields([FieldSpec(name="v", description="V", required=True, **spec)])
    model.model_validate({"v": good})
    with pytest.raises(ValidationError):
        model.model_validate({"v": bad})


def test_an_optional_field_may_be_left_out_or_null() -> None:
    model = model_from_fields(
        [FieldSpec(name="v", description="V", type="integer", required=False)]
    )
    assert model.model_validate({}).model_dump() == {"v": None}
    assert model.model_validate({"v": None}).model_dump() == {"v": None}


def test_the_schema_of_rebuilt_fields_gives_back_the_same_fields() -> None:
    fields = [
        FieldSpec(name="title", description="Title", type="string", required=True),
        FieldSpec(name="to", description="To", type="email", required=True),
        FieldSpec(name="n", description="N", type="integer", required=True, minimum=1,
                  maximum=9),
        FieldSpec(name="pick", description="Pick", type="string", required=True,
                  enum=["a", "b"]),
        FieldSpec(name="when", description="When", type="date", required=True),
        FieldSpec(name="tags", description="Tags", type="string_list", required=True),
        FieldSpec(name="note", description="Note", type="string", required=False,
                  default="x"),
    ]
    assert fields_from_schema(form_for(fields).schema) == fields


def test_text_and_password_fields_survive_the_schema_round_trip() -> None:
    fields = [
        FieldSpec(name="body", description="Body", type="text", required=True),
        FieldSpec(name="pw", description="Pw", type="password", required=True),
    ]
    assert fields_from_schema(form_for(fields).schema) == fields


def test_form_for_a_model_keeps_the_model_and_its_import_path() -> None:
    form = form_for(Everything)
    assert form.model is Everything and form.returns_model
    assert form.model_ref == "tests.unit.test_forms:Everything"
    assert form.fields == fields_from_schema(Everything.model_json_schema())


def test_form_for_a_field_list_accepts_dicts_and_returns_plain_values() -> None:
    form = form_for([{"name": "a", "description": "A", "type": "integer", "required": True}])
    assert not form.returns_model and form.model_ref is None
    assert form.fields == [FieldSpec(name="a", description="A", type="integer", required=True)]
    assert form.schema["required"] == ["a"]


def test_model_ref_is_none_for_classes_defined_in_a_function() -> None:
    class Local(BaseModel):
        a: int

    assert model_ref(Local) is None
    assert model_ref(Outer.Nested) == "tests.unit.test_forms:Outer.Nested"


def test_resolve_model_imports_the_class_by_its_path() -> None:
    assert resolve_model("tests.unit.test_forms:Everything", []) is Everything
    assert resolve_model("tests.unit.test_forms:Outer.Nested", []) is Outer.Nested


@pytest.mark.parametrize(
    "ref",
    [None, "", "no_such_module_xyz:Model", "tests.unit.test_forms:Missing",
     "tests.unit.test_forms:Outer.Missing", "json:dumps", "tests.unit.test_forms:GOOD"],
)
def test_resolve_model_falls_back_to_the_fields(ref: str | None) -> None:
    fields = [FieldSpec(name="a", description="A", type="integer", required=True)]
    model = resolve_model(ref, fields)
    assert model.model_validate({"a": "5"}).model_dump() == {"a": 5}
    with pytest.raises(ValidationError):
        model.model_validate({"a": "five"})


def test_field_errors_name_each_field_path_once() -> None:
    class Form(BaseModel):
        inner: Inner
        n: int

    with pytest.raises(ValidationError) as info:
        Form.model_validate({"inner": {"x": "no"}})
    assert set(field_errors(info.value)) == {"inner.x", "n"}
    with pytest.raises(ValidationError) as info:
        Form.model_validate("not an object")
    assert list(field_errors(info.value)) == ["__root__"]


class Line(BaseModel):
    sku: str = Field(min_length=2, max_length=8)
    qty: int = Field(gt=0, multiple_of=2)


class Order(BaseModel):
    """Bounds of every kind, and the parts that get sub-forms."""

    count: int = Field(gt=0)
    ratio: float = Field(ge=0, lt=1)
    below: int = Field(lt=10)
    step: float = Field(multiple_of=0.5)
    code: str = Field(min_length=3, max_length=6)
    nums: list[int] = Field(min_length=1, max_length=4)
    lines: list[Line] = []
    ship_to: Inner
    maybe: Inner | None = None


def test_exclusive_bounds_are_not_reported_as_inclusive_ones() -> None:
    """pydantic's gt/lt become exclusive_minimum/maximum, not minimum/maximum: a form
    must not hint "at least 0" for gt=0."""
    fields = by_name(fields_from_schema(Order.model_json_schema()))
    count = fields["count"]
    assert (count.exclusive_minimum, count.minimum) == (0, None)
    assert (fields["ratio"].minimum, fields["ratio"].exclusive_maximum) == (0, 1)
    assert (fields["below"].exclusive_maximum, fields["below"].maximum) == (10, None)
    assert fields["step"].multiple_of == 0.5
    assert "exclusive_minimum" not in fields["ratio"].model_dump(exclude_none=True)


def test_length_bounds_count_characters_of_text_and_items_of_lists() -> None:
    fields = by_name(fields_from_schema(Order.model_json_schema()))
    assert (fields["code"].min_length, fields["code"].max_length) == (3, 6)
    assert (fields["nums"].min_length, fields["nums"].max_length) == (1, 4)


def test_lists_and_nested_models_are_one_field_each_with_the_item_type() -> None:
    fields = by_name(fields_from_schema(Order.model_json_schema()))
    assert (fields["nums"].type, fields["nums"].item_type) == ("list", "integer")
    assert (fields["lines"].type, fields["lines"].item_type) == ("list", "object")
    assert (fields["ship_to"].type, fields["ship_to"].required) == ("object", True)
    assert fields["maybe"].type == "object" and not fields["maybe"].required
    # A model's class name (its definition's title) is not the field's label.
    assert fields["ship_to"].description == "ship_to"


def test_a_rebuilt_validator_keeps_every_bound_and_the_item_type() -> None:
    """A hub that cannot import the model validates with one rebuilt from the fields:
    it must refuse what the original refuses at the top level."""
    original = Order.model_json_schema()
    rebuilt = model_from_fields(fields_from_schema(original))
    good: dict[str, Any] = {
        "count": 1, "ratio": 0, "below": 9, "step": 1.5, "code": "abc", "nums": [1, 2],
        "lines": [{"sku": "ab", "qty": 2}], "ship_to": {"x": 1},
    }
    Order.model_validate(good)
    rebuilt.model_validate(good)
    bad: dict[str, Any] = {
        "count": 0, "ratio": 1, "below": 10, "step": 0.7, "code": "ab", "nums": [],
        "lines": [1],
    }
    for name, value in bad.items():
        for model in (Order, rebuilt):
            with pytest.raises(ValidationError) as info:
                model.model_validate({**good, name: value})
            assert {loc.split(".")[0] for loc in field_errors(info.value)} == {name}, (
                model, name)
    with pytest.raises(ValidationError) as info:
        rebuilt.model_validate({**good, "nums": [1, "two"]})
    assert set(field_errors(info.value)) == {"nums.1"}


def test_bounds_survive_the_schema_round_trip_of_a_field_list() -> None:
    fields = [
        FieldSpec(name="n", description="N", type="integer", required=True,
                  exclusive_minimum=0, exclusive_maximum=100, multiple_of=5),
        FieldSpec(name="code", description="Code", type="string", required=True,
                  min_length=2, max_length=4),
        FieldSpec(name="nums", description="Nums", type="list", item_type="integer",
                  required=True, min_length=1),
    ]
    assert fields_from_schema(form_for(fields).schema) == fields
