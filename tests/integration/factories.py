"""factory-boy factories for the retail models (built in memory, saved by the caller)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import factory

from zava.db import models


class StoreFactory(factory.Factory):
    class Meta:
        model = models.Store

    store_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"Store {n}")
    location = factory.LazyAttribute(lambda o: f"{o.name}, WA")
    region = "Puget Sound"
    is_online = False


class ManagerFactory(factory.Factory):
    class Meta:
        model = models.Manager

    manager_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"manager{n}@zava.example")
    scope = "store"
    region = None


class CustomerFactory(factory.Factory):
    class Meta:
        model = models.Customer

    customer_id = factory.LazyFunction(uuid.uuid4)
    store_id: uuid.UUID
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    created_at = factory.LazyFunction(lambda: dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


class CategoryFactory(factory.Factory):
    class Meta:
        model = models.Category

    category_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"Category {n}")


class ProductTypeFactory(factory.Factory):
    class Meta:
        model = models.ProductType

    product_type_id = factory.LazyFunction(uuid.uuid4)
    category_id: uuid.UUID
    name = factory.Sequence(lambda n: f"Type {n}")


class ProductFactory(factory.Factory):
    class Meta:
        model = models.Product

    product_id = factory.LazyFunction(uuid.uuid4)
    sku = factory.Sequence(lambda n: f"TST-{n:05d}")
    name = factory.Sequence(lambda n: f"Test product {n}")
    category_id: uuid.UUID
    product_type_id: uuid.UUID
    cost = Decimal("6.00")
    base_price = Decimal("10.00")
    gross_margin_percent = Decimal("40.00")
    description = "A product made for tests."


class InventoryFactory(factory.Factory):
    class Meta:
        model = models.Inventory

    store_id: uuid.UUID
    product_id: uuid.UUID
    stock_level = factory.Sequence(lambda n: n % 50)


class OrderFactory(factory.Factory):
    class Meta:
        model = models.Order

    store_id: uuid.UUID
    order_id = factory.LazyFunction(uuid.uuid4)
    customer_id: uuid.UUID
    order_date = factory.Sequence(lambda n: dt.date(2024, 1, 1) + dt.timedelta(days=n % 365))
    total_amount = Decimal("0.00")
    status = "delivered"


class OrderItemFactory(factory.Factory):
    class Meta:
        model = models.OrderItem

    store_id: uuid.UUID
    order_id: uuid.UUID
    product_id: uuid.UUID
    quantity = 2
    unit_price = Decimal("10.00")
    discount_percent = Decimal("0.00")
    discount_amount = Decimal("0.00")
    total_amount = factory.LazyAttribute(
        lambda o: o.unit_price * o.quantity - o.discount_amount
    )
