"""What the Alembic environment and revisions share: filters and migration parameters."""

from __future__ import annotations

from typing import Any

from pgvector.sqlalchemy import Vector

from alembic import context
from zava.config import get_settings
from zava.db.models import SCHEMA


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Compare only the ``retail`` schema; ``alembic_version`` and extensions stay out."""
    if type_ == "table":
        return bool(getattr(obj, "schema", None) == SCHEMA)
    return True


def compare_type(
    ctx: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Vector columns match whatever their dimension: it is a deployment setting."""
    if isinstance(metadata_type, Vector):
        return not isinstance(inspected_type, Vector)
    return None


def embedding_dim() -> int:
    """The vector dimension: ``-x embedding_dim=N``, else the settings (default 384)."""
    raw = context.get_x_argument(as_dictionary=True).get("embedding_dim")
    if raw is None:
        return get_settings().embedding_dim
    if not raw.isdigit() or not 0 < int(raw) <= 16000:
        raise ValueError(f"-x embedding_dim={raw!r}: expected a whole number from 1 to 16000")
    return int(raw)


def embedding_model() -> str:
    """The embedding model name recorded with the vectors: ``-x embedding_model=...``."""
    raw = context.get_x_argument(as_dictionary=True).get("embedding_model")
    return raw or get_settings().embedding_model
