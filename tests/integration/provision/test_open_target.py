"""An embedded database is migrated when it is below head, and Alembic is not run (nor
imported) for one already at head: every `zava serve` on it would pay for that."""

from __future__ import annotations

from typing import Any

import pytest

from zava.config import Settings
from zava.provision import migrations
from zava.provision.embedded import EmbeddedCluster
from zava.provision.target import open_target


async def test_a_database_at_head_is_not_migrated_again(
        database: EmbeddedCluster, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Alembic ran on a database at head")

    monkeypatch.setattr(migrations, "upgrade", refuse)
    target = await open_target(settings.model_copy(update={"database_name": database.database}))
    assert target.embedded is not None and target.embedded.database == database.database


async def test_a_new_database_is_migrated_to_head(
        cluster: EmbeddedCluster, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrades: list[str] = []
    upgrade = migrations.upgrade

    async def spy(url: str, *args: Any, **kwargs: Any) -> None:
        upgrades.append(url)
        await upgrade(url, *args, **kwargs)

    monkeypatch.setattr(migrations, "upgrade", spy)
    fresh = settings.model_copy(update={"database_name": "zava_open_target_fresh"})
    target = await open_target(fresh)
    assert len(upgrades) == 1
    assert (await open_target(fresh)).app_url == target.app_url  # at head now: no Alembic
    assert len(upgrades) == 1
