"""Migrations are static: they replay the same way forever, whatever the live code says
later. Where a revision keeps its own copy of a live constant, the copy must still equal it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from zava.db import roles
from zava.db.search_document import SEARCH_DOCUMENT

VERSIONS = Path(__file__).resolve().parents[3] / "alembic" / "versions"
REVISIONS = sorted(VERSIONS.glob("*.py"))
# Reading the -x parameters (the embedding dimension and model) is configuration, not a
# live schema definition.
ALLOWED_ZAVA_IMPORTS = {"zava.provision.migration_context"}


def constants(path: Path) -> dict[str, object]:
    """The module-level literal assignments of a revision."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def test_there_are_revisions() -> None:
    assert len(REVISIONS) >= 4


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: p.name)
def test_a_revision_imports_no_live_code(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    live = {m for m in imported if m.split(".")[0] == "zava"} - ALLOWED_ZAVA_IMPORTS
    assert not live, f"{path.name} imports {sorted(live)}: copy the literal instead"


@pytest.mark.parametrize("prefix", ["0004", "0009"])
def test_the_search_document_copies_equal_the_live_expression(prefix: str) -> None:
    (revision,) = VERSIONS.glob(f"{prefix}_*.py")
    assert constants(revision)["SEARCH_DOCUMENT"] == SEARCH_DOCUMENT


def reader_copies(path: Path) -> list[object]:
    return [value for name, value in constants(path).items()
            if name in {"READERS", "READER_ROLES"}]


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: p.name)
def test_reader_role_names_equal_the_live_constants(path: Path) -> None:
    # The set of reader roles grew over revisions (0007 added zava_all_reader): an older
    # revision's copy is the live tuple as it was then, a prefix of today's.
    for value in reader_copies(path):
        assert isinstance(value, tuple)
        assert value == roles.READER_ROLES[:len(value)]


def test_the_newest_reader_role_copy_is_every_live_reader_role() -> None:
    newest = [copies for path in REVISIONS if (copies := reader_copies(path))][-1]
    assert newest == [roles.READER_ROLES]
