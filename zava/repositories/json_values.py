"""The JSON values a free-form query's rows are made of, and how deep they nest."""

from __future__ import annotations

from typing import Any

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


def nesting_depth(value: JsonValue) -> int:
    """How many arrays/objects deep ``value`` goes (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in item.values())
    return deepest
