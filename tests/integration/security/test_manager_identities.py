"""OAuth identities mapped to managers (``retail.manager_identities``): the server's login
learns one exact mapping through ``retail.manager_for_identity`` as the reader role, and
can neither list nor change the table; ``zava identity add|list|remove`` manage it as the
admin."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.errors import ValidationError
from zava.provision.embedded import APP_ROLE, EmbeddedCluster
from zava.provision.identities import add_identity, list_identities, remove_identity
from zava.seeding import company
from zava.services.identities import IdentityDirectory

ISSUER = "http://127.0.0.1:9/issuer"
SEATTLE = company.SEATTLE_MANAGER_ID
HEAD_OFFICE = company.HEAD_OFFICE_ID


async def as_app(database: EmbeddedCluster) -> asyncpg.Connection:
    return await asyncpg.connect(host=str(database.socket_dir), port=database.port,
                                 user=APP_ROLE, database=database.database)


async def test_the_directory_answers_one_mapping(seeded_database: EmbeddedCluster,
                                                 seeded_app_engine: AsyncEngine,
                                                 settings: Settings) -> None:
    assert await add_identity(seeded_database.admin_url, ISSUER, "alice", SEATTLE)
    assert not await add_identity(seeded_database.admin_url, ISSUER, "alice", SEATTLE)
    directory = IdentityDirectory(seeded_app_engine, settings)
    assert await directory.manager_for(ISSUER, "alice") == SEATTLE
    assert await directory.manager_for(ISSUER, "mallory") is None
    assert await directory.manager_for("http://other.test", "alice") is None
    assert await directory.manager_for(ISSUER, "ALICE") is None  # exact, case-sensitive
    await add_identity(seeded_database.admin_url, ISSUER, "alice", HEAD_OFFICE)  # re-map
    assert await directory.manager_for(ISSUER, "alice") == HEAD_OFFICE
    assert await remove_identity(seeded_database.admin_url, ISSUER, "alice")
    assert not await remove_identity(seeded_database.admin_url, ISSUER, "alice")
    assert await directory.manager_for(ISSUER, "alice") is None


async def test_unknown_manager_and_blank_values_are_refused(
        seeded_database: EmbeddedCluster) -> None:
    with pytest.raises(ValidationError, match="no manager has the id"):
        await add_identity(seeded_database.admin_url, ISSUER, "bob", uuid.uuid4())
    with pytest.raises(ValidationError, match="subject is empty"):
        await add_identity(seeded_database.admin_url, ISSUER, "  ", SEATTLE)


async def test_the_server_login_cannot_read_or_write_the_table(
        seeded_database: EmbeddedCluster) -> None:
    await add_identity(seeded_database.admin_url, ISSUER, "carol", SEATTLE)
    connection = await as_app(seeded_database)
    try:
        for role in (None, "zava_reader", "zava_store_reader"):
            async with connection.transaction():
                if role:
                    await connection.execute(f"SET LOCAL ROLE {role}")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.fetch("SELECT * FROM retail.manager_identities")
            async with connection.transaction():
                if role:
                    await connection.execute(f"SET LOCAL ROLE {role}")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute(
                        "INSERT INTO retail.manager_identities VALUES ('x', 'y', $1)",
                        HEAD_OFFICE)
        # the login itself (PUBLIC) may not call the function; the readers may
        async with connection.transaction():
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.fetchval(
                    "SELECT retail.manager_for_identity($1, 'carol')", ISSUER)
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE zava_store_reader")
            assert await connection.fetchval(
                "SELECT retail.manager_for_identity($1, 'carol')", ISSUER) == SEATTLE
    finally:
        await connection.close()


def zava(database: EmbeddedCluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZAVA_ADMIN_DATABASE_URL": database.admin_url,
           "DATABASE_URL": database.app_url}
    return subprocess.run([sys.executable, "-m", "zava", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


async def test_the_cli_adds_lists_and_removes(seeded_database: EmbeddedCluster) -> None:
    added = zava(seeded_database, "identity", "add", "--issuer", ISSUER, "--subject",
                 "dave@example.test", "--manager", str(SEATTLE))
    assert added.returncode == 0, added.stderr
    assert "mapped dave@example.test" in added.stderr
    listed = zava(seeded_database, "identity", "list", "--issuer", ISSUER)
    assert f"{ISSUER}\tdave@example.test\t{SEATTLE}\t" in listed.stdout
    refused = zava(seeded_database, "identity", "add", "--issuer", ISSUER, "--subject", "x",
                   "--manager", str(uuid.uuid4()))
    assert refused.returncode == 1 and "no manager has the id" in refused.stderr
    removed = zava(seeded_database, "identity", "remove", "--issuer", ISSUER, "--subject",
                   "dave@example.test")
    assert removed.returncode == 0, removed.stderr
    assert all(m.subject != "dave@example.test"
               for m in await list_identities(seeded_database.admin_url))
    again = zava(seeded_database, "identity", "remove", "--issuer", ISSUER, "--subject",
                 "dave@example.test")
    assert again.returncode == 1 and "no mapping" in again.stderr
