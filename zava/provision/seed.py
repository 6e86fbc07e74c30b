"""Seeding as a use case: resolve the database, generate, load."""

from __future__ import annotations

import datetime as dt

import asyncpg

from zava.config import Settings
from zava.provision.seed_loader import LoadSummary, asyncpg_dsn, load_dataset
from zava.provision.target import open_target
from zava.seeding.generator import DatasetGenerator
from zava.seeding.sizes import SIZES


async def has_retail_data(admin_url: str) -> bool:
    """True when the retail tables already hold stores or orders."""
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        return bool(await connection.fetchval("SELECT EXISTS (SELECT FROM retail.stores)"))
    finally:
        await connection.close()


async def seed_database(settings: Settings, *, size: str, seed: int, end_date: dt.date,
                        replace: bool = False, if_empty: bool = False,
                        quiet: bool = False) -> LoadSummary | None:
    """Load ``size`` into the configured database; None when ``if_empty`` found data."""
    target = await open_target(settings)
    if if_empty and await has_retail_data(target.admin_url):
        return None
    generator = DatasetGenerator(SIZES[size], seed, end_date)
    return await load_dataset(target.admin_url, generator, replace=replace, quiet=quiet)
