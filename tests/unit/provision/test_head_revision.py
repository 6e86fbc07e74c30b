"""The head revision a server checks against is read from the migration files' headers,
without Alembic: it must be the head Alembic itself computes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from zava.errors import ConfigurationError
from zava.provision import migrations


def test_head_revision_is_alembics_head() -> None:
    alembic_head = ScriptDirectory.from_config(migrations.alembic_config()).get_current_head()
    assert migrations.head_revision() == alembic_head


def _folder(tmp_path: Path, headers: dict[str, str | None]) -> Path:
    versions = tmp_path / "versions"
    versions.mkdir()
    for revision, parent in headers.items():
        down = "None" if parent is None else f'"{parent}"'
        (versions / f"{revision}_step.py").write_text(
            f'"""step"""\nrevision: str = "{revision}"\ndown_revision: str | None = {down}\n')
    return tmp_path


def test_head_is_the_revision_nobody_follows(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "SCRIPT_LOCATION",
                        _folder(tmp_path, {"0001": None, "0002": "0001", "0003": "0002"}))
    migrations.head_revision.cache_clear()
    try:
        assert migrations.head_revision() == "0003"
    finally:
        migrations.head_revision.cache_clear()


def test_two_heads_are_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "SCRIPT_LOCATION",
                        _folder(tmp_path, {"0001": None, "0002": "0001", "0003": "0001"}))
    migrations.head_revision.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match=r"2 heads \(0002, 0003\)"):
            migrations.head_revision()
    finally:
        migrations.head_revision.cache_clear()
