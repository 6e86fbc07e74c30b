"""What ``tools/list`` publishes, compacted: every tool's schemas and description are read
by the model on each session, so they carry meaning and nothing else.

pydantic's schemas repeat a ``title`` for every model and field (the field's name again,
capitalised), spell an optional value as ``anyOf`` with a null branch, add
``"default": null`` and a ``type`` beside an enum, and copy each result model's
docstring (written for the code's reader; the tool's description says what comes back);
docstrings keep their source indentation. Output schemas list every property as
``required``: a result always has them all. ``compact_tool`` removes all of that. Types,
formats, bounds, enums, defaults other than null, the arguments' required fields,
``$defs`` and field descriptions stay: the compact schemas accept what the originals
accept and refuse the same wrong types and bounds (a client may validate with them).
Arguments and results are still validated by the pydantic models, not by these published
copies. The budget (and the measure) is in tests/e2e/server/test_tools_list_budget.py.
"""

from __future__ import annotations

import inspect
from typing import Any

from mcp.types import Tool

_NAMED_CHILDREN = frozenset({"properties", "$defs", "definitions", "patternProperties"})
"""Keywords whose value maps names (not keywords) to schemas: a property may be called
``title`` or ``default``."""
_VALUES = frozenset({"default", "const", "enum", "examples"})
"""Keywords whose value is data, copied as it is."""


def _union(branches: list[Any]) -> dict[str, Any] | None:
    """One schema for an ``anyOf`` of bare types (a list of types), or of one schema and
    null (its type or enum with null added); None for any other union."""
    if all(isinstance(b, dict) and b.keys() == {"type"} and isinstance(b["type"], str)
           for b in branches):
        return {"type": [b["type"] for b in branches]}
    null = {"type": "null"}
    if len(branches) != 2 or null not in branches:
        return None
    (other,) = [b for b in branches if b != null]
    if not isinstance(other, dict) or \
            {"$ref", "const", "anyOf", "oneOf", "allOf", "not"} & other.keys():
        return None
    if "enum" in other:
        return {**{k: v for k, v in other.items() if k != "type"},
                "enum": [*other["enum"], None]}
    if not isinstance(other.get("type"), str):
        return None
    return {**other, "type": [other["type"], "null"]}


def compact_schema(schema: Any, *, output: bool = False) -> Any:
    """``schema`` without pydantic's titles, null defaults, null ``anyOf`` branches, model
    docstrings and the type beside an enum; an ``output`` schema also without
    ``required`` (a new object; the argument is not changed)."""
    if isinstance(schema, list):
        return [compact_schema(item, output=output) for item in schema]
    if not isinstance(schema, dict):
        return schema
    compact: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NAMED_CHILDREN and isinstance(value, dict):
            compact[key] = {name: compact_schema(child, output=output)
                             for name, child in value.items()}
        elif (key == "title" and isinstance(value, str)) or (key == "default" and value is None) \
                or (key == "required" and output):
            continue
        elif key in _VALUES:
            compact[key] = value
        else:
            compact[key] = compact_schema(value, output=output)
    if "properties" in compact:
        compact.pop("description", None)
    if "enum" in compact and "anyOf" not in compact:
        compact.pop("type", None)  # the values say it
    branches = compact.get("anyOf")
    merged = _union(branches) if isinstance(branches, list) else None
    if merged is not None:
        del compact["anyOf"]
        compact = {**merged, **compact}
    return compact


def compact_description(text: str | None) -> str | None:
    """A docstring as one line per paragraph, without the source's indentation."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def compact_tool(tool: Tool) -> Tool:
    """``tool`` as ``tools/list`` publishes it: compact schemas and description."""
    return tool.model_copy(update={
        "description": compact_description(tool.description),
        "input_schema": compact_schema(tool.input_schema),
        "output_schema": compact_schema(tool.output_schema, output=True),
    })
