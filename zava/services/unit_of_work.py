"""The unit of work services are given: repositories attached to one transaction.

``UnitOfWork`` is what services are typed against (fakes in ``tests/unit`` implement it);
``SqlAlchemyUnitOfWork`` attaches the real repositories to a ``zava.db.transaction``;
``UnitOfWorkFactory`` makes one per call, for a caller, on the primary or a replica.
A service enters the unit it is given (``async with uow:``): the caller's identity is
applied before any repository can run.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.db.replicas import ReplicaRouter
from zava.db.transaction import CheckoutQueue, Transaction
from zava.repositories.customers import CustomerRepository
from zava.repositories.inventory import InventoryRepository
from zava.repositories.metrics import MetricsRepository
from zava.repositories.products import ProductRepository
from zava.repositories.queries import QueryRepository
from zava.repositories.sales import SalesRepository
from zava.repositories.schema import SchemaRepository
from zava.repositories.stores import StoreRepository


class UnitOfWork(Protocol):
    """Repositories over one read transaction acting for one caller. Entering applies the
    caller's identity; the repositories exist only inside ``async with``."""

    @property
    def stores(self) -> StoreRepository: ...
    @property
    def products(self) -> ProductRepository: ...
    @property
    def sales(self) -> SalesRepository: ...
    @property
    def inventory(self) -> InventoryRepository: ...
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def schema(self) -> SchemaRepository: ...
    @property
    def queries(self) -> QueryRepository: ...
    @property
    def metrics(self) -> MetricsRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None: ...


class SqlAlchemyUnitOfWork(Transaction):
    """``async with SqlAlchemyUnitOfWork(engine, settings, caller) as uow: uow.sales...``:
    the transaction of ``zava.db.transaction`` with the repositories attached."""

    stores: StoreRepository
    products: ProductRepository
    sales: SalesRepository
    inventory: InventoryRepository
    customers: CustomerRepository
    schema: SchemaRepository
    queries: QueryRepository
    metrics: MetricsRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        session = self.session
        self.stores = StoreRepository(session)
        self.products = ProductRepository(session)
        self.sales = SalesRepository(session)
        self.inventory = InventoryRepository(session)
        self.customers = CustomerRepository(session)
        self.schema = SchemaRepository(session)
        self.queries = QueryRepository(session)
        self.metrics = MetricsRepository(session)
        return self


class UnitOfWorkFactory:
    """Makes units of work on the primary's engine (and read replicas, when given): what
    services and tools are given."""

    def __init__(self, engine: AsyncEngine, settings: Settings,
                 replicas: ReplicaRouter | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.replicas = replicas
        self.queue = CheckoutQueue()

    def __call__(self, caller: uuid.UUID, *, label: str | None = None) -> SqlAlchemyUnitOfWork:
        """A read unit acting for ``caller``; ``label``: its ``application_name`` (a tool
        call's: ``zava.observability.tracing.application_name``)."""
        return SqlAlchemyUnitOfWork(self.engine, self.settings, caller,
                                    replicas=self.replicas, queue=self.queue, label=label)
