"""The lag a router reports for the engine that served a unit: the replica's last
measurement, nothing for the primary or a replica not measured yet."""

from __future__ import annotations

import math

from sqlalchemy.ext.asyncio import create_async_engine

from zava.config import Settings
from zava.db.replicas import Replica, ReplicaRouter


def test_the_lag_of_the_engine_that_served() -> None:
    primary = create_async_engine("postgresql+asyncpg://zava@localhost/primary")
    first = Replica("r1", create_async_engine("postgresql+asyncpg://zava@localhost/r1"),
                    healthy=True, lag_s=0.25)
    second = Replica("r2", create_async_engine("postgresql+asyncpg://zava@localhost/r2"),
                     healthy=True, lag_s=math.inf)
    router = ReplicaRouter(primary, [first, second], Settings())
    assert router.lag_of(first.engine) == 0.25
    assert router.lag_of(second.engine) is None
    assert router.lag_of(primary) is None
