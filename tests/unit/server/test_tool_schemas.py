"""The compact schemas tools/list publishes: pydantic's titles, null defaults, model
docstrings, null ``anyOf`` branches and types beside enums go; everything a client
validates stays."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import jsonschema
import pytest
from mcp.types import Tool
from pydantic import BaseModel, Field

from zava.server.tool_schemas import compact_description, compact_schema, compact_tool


class Line(BaseModel):
    """A nested model: its docstring is for the code's reader."""

    title: str = Field(description="A field called title is kept")
    required: int | None


class Report(BaseModel):
    """The root model."""

    day: dt.date
    note: str | None = Field(default=None, max_length=10, description="Optional text")
    mode: Literal["a", "b"] | None = None
    value: str | int | None
    lines: list[Line]
    default: dict[str, Any] = {"title": "data, not a schema"}


def test_a_pydantic_schema_loses_only_what_repeats() -> None:
    compact = compact_schema(Report.model_json_schema())
    assert compact == {
        "$defs": {"Line": {
            "properties": {
                "title": {"description": "A field called title is kept", "type": "string"},
                "required": {"type": ["integer", "null"]},
            },
            "required": ["title", "required"], "type": "object",
        }},
        "properties": {
            "day": {"format": "date", "type": "string"},
            "note": {"maxLength": 10, "type": ["string", "null"],
                     "description": "Optional text"},
            "mode": {"enum": ["a", "b", None]},
            "value": {"type": ["string", "integer", "null"]},
            "lines": {"items": {"$ref": "#/$defs/Line"}, "type": "array"},
            "default": {"additionalProperties": True, "default": {"title": "data, not a schema"},
                        "type": "object"},
        },
        "required": ["day", "value", "lines"], "type": "object",
    }


def test_an_output_schema_also_loses_required() -> None:
    compact = compact_schema(Report.model_json_schema(), output=True)
    assert "required" not in compact and "required" not in compact["$defs"]["Line"]
    assert "required" in compact["$defs"]["Line"]["properties"]  # the property stays


def test_the_argument_is_not_changed() -> None:
    schema = Report.model_json_schema()
    before = repr(schema)
    compact_schema(schema, output=True)
    assert repr(schema) == before


REPORT: dict[str, Any] = {"day": "2026-11-23", "note": None, "mode": "a", "value": 3,
          "lines": [{"title": "x", "required": None}], "default": {}}


@pytest.mark.parametrize("output", [False, True])
def test_the_compact_schema_accepts_and_refuses_what_the_original_does(output: bool) -> None:
    original = Report.model_json_schema()
    compact = compact_schema(original, output=output)
    jsonschema.validate(REPORT, original)
    jsonschema.validate(REPORT, compact)
    for wrong in ({"note": "x" * 11}, {"mode": "c"}, {"value": [1]}, {"day": 3},
                  {"lines": [{"title": 1, "required": 2}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**REPORT, **wrong}, original)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**REPORT, **wrong}, compact)


def test_unions_with_a_reference_or_several_schemas_stay_as_they_are() -> None:
    union = {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}]}
    assert compact_schema(union) == union
    several = {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"},
                         {"type": "null"}]}
    assert compact_schema(several) == several
    assert compact_schema({"enum": ["x"], "type": "string"}) == {"enum": ["x"]}


def test_a_docstring_becomes_one_line_per_paragraph() -> None:
    text = """First line,
        continued.

        Second paragraph
          indented."""
    assert compact_description(text) == "First line, continued.\n\nSecond paragraph indented."
    assert compact_description(None) is None


def test_a_tool_is_compacted_in_a_copy() -> None:
    tool = Tool(name="t", description="Does\n    a thing.",
                input_schema={"type": "object", "title": "tArguments", "properties": {}},
                output_schema=Report.model_json_schema())
    compact = compact_tool(tool)
    assert compact.description == "Does a thing."
    assert compact.input_schema == {"type": "object", "properties": {}}
    assert compact.output_schema is not None and "required" not in compact.output_schema
    assert tool.input_schema["title"] == "tArguments"
