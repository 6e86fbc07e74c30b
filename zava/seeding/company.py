"""The fixed part of the demo company: stores and managers, read from ``seed/company``."""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from functools import cache

from zava.bundled import SEED_DIR


@dataclass(frozen=True)
class StoreDef:
    """A store of the demo company."""

    store_id: uuid.UUID
    name: str
    location: str
    region: str
    is_online: bool


@dataclass(frozen=True)
class ManagerDef:
    """A caller identity of the demo company; ``store`` is set for store managers."""

    manager_id: uuid.UUID
    name: str
    email: str
    scope: str
    region: str | None
    store: str | None


@cache
def stores() -> tuple[StoreDef, ...]:
    """The 8 stores, in file order."""
    with (SEED_DIR / "company" / "stores.csv").open(newline="") as handle:
        return tuple(
            StoreDef(
                store_id=uuid.UUID(row["store_id"]),
                name=row["name"],
                location=row["location"],
                region=row["region"],
                is_online=row["is_online"] == "true",
            )
            for row in csv.DictReader(handle)
        )


@cache
def managers() -> tuple[ManagerDef, ...]:
    """Store managers, the Eastside regional manager and head office, in file order."""
    with (SEED_DIR / "company" / "managers.csv").open(newline="") as handle:
        return tuple(
            ManagerDef(
                manager_id=uuid.UUID(row["manager_id"]),
                name=row["name"],
                email=row["email"],
                scope=row["scope"],
                region=row["region"] or None,
                store=row["store"] or None,
            )
            for row in csv.DictReader(handle)
        )


def store_named(name: str) -> StoreDef:
    """The store called ``name`` (KeyError if there is none)."""
    for store in stores():
        if store.name == name:
            return store
    raise KeyError(name)


def visible_stores(manager: ManagerDef) -> frozenset[uuid.UUID]:
    """The store ids ``manager`` may see, computed from the definition (not the database)."""
    if manager.scope == "head_office":
        return frozenset(s.store_id for s in stores())
    if manager.scope == "region":
        return frozenset(s.store_id for s in stores() if s.region == manager.region)
    return frozenset(s.store_id for s in stores() if s.name == manager.store)


HEAD_OFFICE_ID = uuid.UUID("c0ffee00-0000-4000-8000-000000000001")
EASTSIDE_REGIONAL_ID = uuid.UUID("c0ffee00-0000-4000-8000-000000000002")
SEATTLE_MANAGER_ID = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
BELLEVUE_MANAGER_ID = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
