"""The wheel's package list in pyproject.toml is complete, and the bundled files are found.

The packages are listed by hand because the migrations and the seed data are mapped into
the package from the repository's top level (``alembic/`` -> ``zava.migrations``,
``seed/`` -> ``zava.seed``), which setuptools' discovery cannot do. A package (or data
folder) missing from the list would silently be missing from the wheel.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from zava import bundled

ROOT = Path(__file__).resolve().parents[3]


def _setuptools() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        config: dict[str, Any] = tomllib.load(handle)["tool"]["setuptools"]
    return config


def _folders(top: Path, package: str, *, code: bool) -> set[str]:
    """``package`` and one dotted name per folder beneath ``top`` (with an __init__.py when
    ``code``), skipping caches."""
    found = {package}
    for folder in top.rglob("*"):
        if not folder.is_dir() or "__pycache__" in folder.parts:
            continue
        if code and not (folder / "__init__.py").is_file():
            continue
        found.add(".".join([package, *folder.relative_to(top).parts]))
    return found


def test_every_package_and_data_folder_is_listed() -> None:
    expected = (_folders(ROOT / "zava", "zava", code=True)
                | _folders(ROOT / "alembic", "zava.migrations", code=False)
                | _folders(ROOT / "seed", "zava.seed", code=False))
    listed = set(_setuptools()["packages"])
    assert not expected - listed, f"add to [tool.setuptools] packages: {expected - listed}"
    assert not listed - expected, f"listed but absent: {listed - expected}"


def test_the_mapped_folders_are_the_ones_zava_reads() -> None:
    mapping = _setuptools()["package-dir"]
    assert (ROOT / mapping["zava.migrations"]).resolve() == bundled.MIGRATIONS_DIR
    assert (ROOT / mapping["zava.seed"]).resolve() == bundled.SEED_DIR
    data = _setuptools()["package-data"]
    assert "script.py.mako" in data["zava.migrations"]
    assert (bundled.MIGRATIONS_DIR / "script.py.mako").is_file()


def test_an_installed_copy_wins_over_the_checkout(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"
    for marker in ("zava/migrations/env.py", "zava/seed/company/stores.csv"):
        (site / marker).parent.mkdir(parents=True)
        (site / marker).touch()
    (site / "alembic" / "templates").mkdir(parents=True)  # the library beside the package
    monkeypatch.setattr(bundled, "PACKAGE_DIR", site / "zava")
    monkeypatch.setattr(bundled, "CHECKOUT_DIR", site)
    assert bundled._locate("migrations", "alembic", "env.py") == site / "zava" / "migrations"
    assert bundled._locate("seed", "seed", "company/stores.csv") == site / "zava" / "seed"


def test_a_checkout_reads_the_top_level_folders(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "zava").mkdir()
    (tmp_path / "alembic").mkdir()
    (tmp_path / "alembic" / "env.py").touch()
    monkeypatch.setattr(bundled, "PACKAGE_DIR", tmp_path / "zava")
    monkeypatch.setattr(bundled, "CHECKOUT_DIR", tmp_path)
    assert bundled._locate("migrations", "alembic", "env.py") == tmp_path / "alembic"
