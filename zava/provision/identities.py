"""``zava identity add|list|remove``: who, signed in at an OAuth/OpenID issuer, acts as
which manager (``retail.manager_identities``). Run as the admin login: the server's login
cannot read or write the table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import create_async_engine

from zava.db.models import Manager, ManagerIdentity
from zava.errors import ValidationError


@dataclass(frozen=True)
class IdentityMapping:
    """One row of ``retail.manager_identities``, with the manager's name."""

    issuer: str
    subject: str
    manager_id: uuid.UUID
    manager_name: str


def _clean(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(f"the {what} is empty: give the value exactly as the token "
                              "carries it")
    return value


async def add_identity(admin_url: str, issuer: str, subject: str,
                       manager: uuid.UUID) -> bool:
    """Map ``subject`` at ``issuer`` to ``manager`` (replacing an earlier mapping of the
    same pair). True when it is new."""
    issuer, subject = _clean(issuer, "issuer"), _clean(subject, "subject")
    engine = create_async_engine(admin_url)
    try:
        async with engine.begin() as connection:
            known = await connection.scalar(
                select(func.count()).select_from(Manager).where(Manager.manager_id == manager))
            if not known:
                raise ValidationError(f"no manager has the id {manager}: use the id of a store "
                                      "manager, regional manager or head office")
            existed = await connection.scalar(
                select(func.count()).select_from(ManagerIdentity).where(
                    ManagerIdentity.issuer == issuer, ManagerIdentity.subject == subject))
            await connection.execute(
                pg_insert(ManagerIdentity)
                .values(issuer=issuer, subject=subject, manager_id=manager)
                .on_conflict_do_update(
                    index_elements=[ManagerIdentity.issuer, ManagerIdentity.subject],
                    set_={"manager_id": manager}))
    finally:
        await engine.dispose()
    return not existed


async def list_identities(admin_url: str, issuer: str | None = None) -> list[IdentityMapping]:
    """Every mapping (of one issuer), by issuer and subject."""
    query = (select(ManagerIdentity.issuer, ManagerIdentity.subject,
                    ManagerIdentity.manager_id, Manager.name)
             .join(Manager, Manager.manager_id == ManagerIdentity.manager_id)
             .order_by(ManagerIdentity.issuer, ManagerIdentity.subject))
    if issuer is not None:
        query = query.where(ManagerIdentity.issuer == issuer.strip())
    engine = create_async_engine(admin_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
    finally:
        await engine.dispose()
    return [IdentityMapping(*row) for row in rows]


async def remove_identity(admin_url: str, issuer: str, subject: str) -> bool:
    """Remove a mapping; True when there was one. Servers stop honouring it when their
    cached verification of the person's token expires (ZAVA_OAUTH_TOKEN_CACHE_TTL_S)."""
    issuer, subject = _clean(issuer, "issuer"), _clean(subject, "subject")
    engine = create_async_engine(admin_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(
                delete(ManagerIdentity).where(ManagerIdentity.issuer == issuer,
                                              ManagerIdentity.subject == subject))
    finally:
        await engine.dispose()
    return bool(result.rowcount)
