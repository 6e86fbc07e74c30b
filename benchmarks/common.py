"""What the benchmarks share: a seeded embedded database and a median timer."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from zava.config import Settings
from zava.provision.seed import has_retail_data
from zava.provision.seed_loader import load_dataset
from zava.provision.target import DatabaseTarget, open_target
from zava.seeding.generator import DatasetGenerator
from zava.seeding.sizes import DEFAULT_SEED, SIZES


async def seeded_target(size: str, data_dir: Path | None) -> tuple[Settings, DatabaseTarget]:
    """An embedded database with ``size`` loaded (reused when it already has data)."""
    folder = data_dir or Path(tempfile.mkdtemp(prefix="zb-", dir="/tmp"))
    settings = Settings(data_dir=folder, database_name=f"bench_{size}")
    target = await open_target(settings)
    if not await has_retail_data(target.admin_url):
        generator = DatasetGenerator(SIZES[size], DEFAULT_SEED, dt.datetime.now(dt.UTC).date())
        await load_dataset(target.admin_url, generator, quiet=True)
    return settings, target


async def median_ms(run: Callable[[], Awaitable[object]], repeats: int) -> float:
    """Median wall time of ``run`` in milliseconds, after one warm-up."""
    await run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``zava serve`` on ``settings``' database: quiet logs, no model
    download, and ``extra`` settings."""
    return dict(os.environ, ZAVA_DATA_DIR=str(settings.data_dir),
                ZAVA_DATABASE_NAME=settings.database_name, ZAVA_LOG_LEVEL="WARNING",
                HF_HUB_OFFLINE="1", **extra)
