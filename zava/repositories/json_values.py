"""JSON-safe forms of the values asyncpg returns for a free-form query."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


def to_json_value(value: object) -> JsonValue:
    """A JSON-safe form of a value asyncpg returned."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() and len(value.as_tuple().digits) <= 15 \
            else str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if hasattr(value, "items") and hasattr(value, "keys"):  # asyncpg.Record (composite)
        return {str(k): to_json_value(v) for k, v in value.items()}
    return str(value)
