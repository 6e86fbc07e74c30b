"""The SQL guard as the server builds it, on the catalog snapshot instead of a database."""

from __future__ import annotations

import pytest

from tests.support.catalog_snapshot import load_catalog, production_guard
from zava.security.function_catalog import FunctionCatalog
from zava.security.sql_guard import SqlGuard


@pytest.fixture(scope="session")
def function_catalog() -> FunctionCatalog:
    """The allowlists built from ``function_catalog_snapshot.json``."""
    return load_catalog()


@pytest.fixture(scope="session")
def guard(function_catalog: FunctionCatalog) -> SqlGuard:
    """``SqlGuard(catalog, frozenset(TABLE_DESCRIPTIONS))``, as ``zava.server.runtime``."""
    return production_guard(function_catalog)
