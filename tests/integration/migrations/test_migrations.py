"""The migrations: a full round trip, no drift from the models, complete offline SQL."""

from __future__ import annotations

import subprocess

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import clone_database
from zava.db.models import Base
from zava.provision import migrations
from zava.provision.embedded import EmbeddedCluster, pg_bin
from zava.provision.migration_context import compare_type, include_object


async def empty_database(template: EmbeddedCluster, name: str) -> EmbeddedCluster:
    """A database with nothing in it (cloned from template0)."""
    import dataclasses

    return await clone_database(dataclasses.replace(template, database="template0"), name)


def schema_dump(cluster: EmbeddedCluster) -> str:
    """pg_dump --schema-only of the database, with the volatile header lines removed."""
    dump = subprocess.run(
        [str(pg_bin("pg_dump")), "--schema-only", "--no-comments",
         "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", "postgres",
         cluster.database],
        check=True, capture_output=True, text=True,
    ).stdout
    return "\n".join(
        line for line in dump.splitlines()
        if not line.startswith(("-- Dumped", "\\restrict", "\\unrestrict"))
    )


def psql(cluster: EmbeddedCluster, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(pg_bin("psql")), "-v", "ON_ERROR_STOP=1", "-q",
         "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", "postgres",
         cluster.database],
        input=sql, capture_output=True, text=True,
    )


async def test_round_trip_leaves_an_identical_schema(template: EmbeddedCluster) -> None:
    db = await empty_database(template, "zava_mig_roundtrip")
    await migrations.upgrade(db.admin_url)
    first = schema_dump(db)
    await migrations.downgrade(db.admin_url, "base")
    engine = create_async_engine(db.admin_url)
    async with engine.connect() as connection:
        leftover = await connection.scalar(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = 'retail'"))
    await engine.dispose()
    assert leftover == 0
    await migrations.upgrade(db.admin_url)
    assert schema_dump(db) == first


async def test_every_revision_downgrades_one_step_at_a_time(template: EmbeddedCluster) -> None:
    db = await empty_database(template, "zava_mig_steps")
    await migrations.upgrade(db.admin_url)
    engine = create_async_engine(db.admin_url)
    seen = []
    for _ in range(9):
        async with engine.connect() as connection:
            seen.append(await migrations.current_revision(connection))
        await migrations.downgrade(db.admin_url, "-1")
    async with engine.connect() as connection:
        seen.append(await migrations.current_revision(connection))
    await engine.dispose()
    assert seen == ["0009", "0008", "0007", "0006", "0005", "0004", "0003", "0002", "0001", None]


async def test_models_match_the_migrated_schema(template: EmbeddedCluster) -> None:
    engine = create_async_engine(template.admin_url)

    def diff(sync_connection: object) -> list[object]:
        context = MigrationContext.configure(
            sync_connection,  # type: ignore[arg-type]
            opts={
                "include_schemas": True,
                "include_object": include_object,
                "compare_type": compare_type,
                "compare_server_default": True,
            },
        )
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    await engine.dispose()
    assert differences == []


async def test_offline_sql_builds_the_same_schema(template: EmbeddedCluster) -> None:
    online = await empty_database(template, "zava_mig_online")
    await migrations.upgrade(online.admin_url)
    offline = await empty_database(template, "zava_mig_offline")
    sql = migrations.offline_sql()
    assert "CREATE POLICY" in sql and "FORCE ROW LEVEL SECURITY" in sql
    result = psql(offline, sql)
    assert result.returncode == 0, result.stderr
    assert schema_dump(offline) == schema_dump(online)


@pytest.mark.parametrize("dim", [1536])
async def test_embedding_dimension_comes_from_configuration(
    template: EmbeddedCluster, dim: int
) -> None:
    db = await empty_database(template, f"zava_mig_dim_{dim}")
    await migrations.upgrade(db.admin_url, embedding_dim=dim, embedding_model="text-embedding-3-small")
    engine = create_async_engine(db.admin_url)
    async with engine.connect() as connection:
        column_type = await connection.scalar(text(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'retail.product_description_embeddings'::regclass "
            "AND attname = 'embedding'"))
        recorded = (await connection.execute(
            text("SELECT model_name, dimension FROM retail.embedding_space"))).one()
    await engine.dispose()
    assert column_type == f"vector({dim})"
    assert tuple(recorded) == ("text-embedding-3-small", dim)
    assert f"vector({dim})" in migrations.offline_sql(embedding_dim=dim).lower()


async def test_upgrading_to_0007_lets_every_reader_login_become_the_new_reader(
        template: EmbeddedCluster) -> None:
    """A login granted the readers before 0007 (``zava db grant-login``) may become
    ``zava_all_reader`` after it, with the same options: an upgraded server keeps serving."""
    import uuid

    db = await empty_database(template, "zava_mig_all_reader")
    await migrations.upgrade(db.admin_url, "0006")
    login = f"zr_pre7_{uuid.uuid4().hex[:6]}"  # roles are cluster-wide
    created = psql(db, f"CREATE ROLE {login} LOGIN NOINHERIT; "
                       f"GRANT zava_reader, zava_store_reader TO {login} "
                       "WITH INHERIT FALSE, SET TRUE;")
    assert created.returncode == 0, created.stderr
    await migrations.upgrade(db.admin_url)
    engine = create_async_engine(db.admin_url)
    async with engine.connect() as connection:
        option = (await connection.execute(text(
            "SELECT a.set_option, a.inherit_option FROM pg_auth_members a "
            "WHERE a.roleid = 'zava_all_reader'::regrole AND a.member = CAST(:login AS regrole)"),
            {"login": login})).one()
    await engine.dispose()
    assert tuple(option) == (True, False)
