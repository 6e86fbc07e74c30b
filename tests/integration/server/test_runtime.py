"""The server's start-up checks: a privileged login is refused unless allowed."""

from __future__ import annotations

import pytest

from zava.config import Settings
from zava.errors import ConfigurationError
from zava.provision.embedded import EmbeddedCluster
from zava.seeding import company
from zava.server.runtime import open_runtime


async def test_a_superuser_login_is_refused(seeded_database: EmbeddedCluster,
                                            settings: Settings) -> None:
    privileged = settings.model_copy(update={"database_url": seeded_database.admin_url})
    with pytest.raises(ConfigurationError, match=r"refusing to serve as postgres, which is a "
                                                 r"superuser .*--allow-privileged-login"):
        async with open_runtime(privileged):
            pytest.fail("served as a superuser")


async def test_allowed_privileged_login_still_reads_as_the_caller(
    seeded_database: EmbeddedCluster, settings: Settings
) -> None:
    privileged = settings.model_copy(update={"database_url": seeded_database.admin_url,
                                             "allow_privileged_login": True})
    async with open_runtime(privileged) as runtime:
        async with runtime.unit(company.SEATTLE_MANAGER_ID) as uow:
            stores = [s.name for s in await uow.stores.visible()]
    assert stores == ["Seattle"]


async def test_the_environment_variable_allows_a_privileged_login(
    seeded_database: EmbeddedCluster, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ZAVA_ALLOW_PRIVILEGED_LOGIN used to be read into the settings and then ignored.
    monkeypatch.setenv("ZAVA_ALLOW_PRIVILEGED_LOGIN", "true")
    monkeypatch.setenv("DATABASE_URL", seeded_database.admin_url)
    from_env = Settings(data_dir=settings.data_dir)
    async with open_runtime(from_env) as runtime:
        assert runtime.settings.allow_privileged_login


async def test_the_least_privilege_login_is_accepted(seeded_database: EmbeddedCluster,
                                                     settings: Settings) -> None:
    plain = settings.model_copy(update={"database_url": seeded_database.app_url})
    async with open_runtime(plain) as runtime:
        assert runtime.guard.check("SELECT 1").sql == "SELECT 1"
