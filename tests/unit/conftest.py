"""The unit layer needs no database and no service: a test here that asks for one of the
session fixtures that start the embedded PostgreSQL, clone databases, load the model or
make the cluster's data directory fails before it runs (the check goes by name: do not
give a unit-test fixture one of these names). The SQL guard is built from the catalog
snapshot instead of a database."""

from __future__ import annotations

import pytest

from tests.support.catalog_snapshot import load_catalog, production_guard
from zava.security.function_catalog import FunctionCatalog
from zava.security.sql_guard import SqlGuard

SERVICE_FIXTURES = frozenset({
    "data_dir", "settings", "cluster", "template", "database", "admin_engine", "app_engine",
    "seeded_template", "seeded_database", "seeded_admin_engine", "seeded_app_engine",
    "embedder", "own_data_dir", "own_cluster", "own_settings", "server_env",
})
"""The fixtures of ``tests/conftest.py`` (and the e2e and resilience ones) that need the
embedded PostgreSQL, its data directory, or the embedding model."""


@pytest.fixture(autouse=True)
def _no_database(request: pytest.FixtureRequest) -> None:
    used = SERVICE_FIXTURES.intersection(request.fixturenames)
    if used:
        pytest.fail(f"{request.node.nodeid} is a unit test but uses {sorted(used)}: move it "
                    "to tests/integration or tests/e2e", pytrace=False)


@pytest.fixture(scope="session")
def function_catalog() -> FunctionCatalog:
    """The guard's allowlists built from ``security/function_catalog_snapshot.json``."""
    return load_catalog()


@pytest.fixture(scope="session")
def guard(function_catalog: FunctionCatalog) -> SqlGuard:
    """The SQL guard as the server builds it (``SqlGuard(catalog,
    frozenset(TABLE_DESCRIPTIONS))``, see ``zava.server.runtime``), on the snapshot."""
    return production_guard(function_catalog)
