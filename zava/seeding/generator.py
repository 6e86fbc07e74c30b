"""Deterministic generation of the demo dataset, streamed in chunks.

Everything derives from the seed (numpy PCG64 streams spawned per table, Faker seeded
from the same number) and the end date, so the same seed, size and end date give
identical rows. Money is computed in integer cents: item total = quantity x unit price
- discount, order total = sum of its items, to the cent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from faker import Faker

from zava.seeding import catalog, company
from zava.seeding.sizes import STORE_WEIGHTS, Size

START_DATE = dt.date(2020, 1, 1)
YEARLY_GROWTH = 1.12
ITEMS_PER_ORDER = (1, 2, 3, 4, 5)
ITEMS_P = (0.34, 0.30, 0.18, 0.11, 0.07)
QUANTITIES = (1, 2, 3, 4)
QUANTITIES_P = (0.62, 0.24, 0.09, 0.05)
DISCOUNTS = (5, 10, 15, 20, 25)
DISCOUNT_SHARE = 0.12
LOW_STOCK_SHARE = 0.06
AWAY_SHARE = 0.08
"""Share of a physical store's orders placed by customers of another home store."""
ONLINE_AWAY_SHARE = 0.35
"""Share of the online shop's orders placed by customers of the physical stores."""


@dataclass(frozen=True)
class TableRows:
    """Rows for one table, in COPY column order."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _uuids(rng: np.random.Generator, count: int) -> list[uuid.UUID]:
    raw = bytearray(rng.bytes(16 * count))
    for i in range(count):  # RFC 4122 version 4 and variant bits
        raw[16 * i + 6] = (raw[16 * i + 6] & 0x0F) | 0x40
        raw[16 * i + 8] = (raw[16 * i + 8] & 0x3F) | 0x80
    return [uuid.UUID(bytes=bytes(raw[16 * i:16 * i + 16])) for i in range(count)]


def _cents(value: Decimal) -> int:
    return int(value * 100)


def _money(cents: np.ndarray) -> list[Decimal]:
    """Exact decimals with two places from integer cents."""
    return [Decimal(c).scaleb(-2) for c in cents.tolist()]


class DatasetGenerator:
    """The demo company's rows for one size, seed and end date."""

    def __init__(self, size: Size, seed: int, end_date: dt.date) -> None:
        if end_date <= START_DATE:
            raise ValueError(f"the end date must be after {START_DATE}")
        self.size = size
        self.seed = seed
        self.end_date = end_date
        streams = np.random.SeedSequence(seed).spawn(4)
        self._rng_customers, self._rng_inventory, self._rng_orders, self._rng_ids = (
            np.random.default_rng(s) for s in streams)
        self.stores = company.stores()
        self.products = catalog.products()
        self.categories = catalog.categories()
        self._store_p = np.array([STORE_WEIGHTS[s.name] for s in self.stores])
        self._store_p /= self._store_p.sum()
        self._days = (end_date - START_DATE).days + 1
        self._dates = [START_DATE + dt.timedelta(days=d) for d in range(self._days)]
        self._customer_store: np.ndarray | None = None
        self._customer_join: np.ndarray | None = None
        self._customer_ids: list[uuid.UUID] = []
        self._pools: dict[int, tuple[np.ndarray, np.ndarray]] | None = None

    def tables(self) -> Iterator[TableRows]:
        """Every table's rows in dependency order; orders and items come chunk by chunk."""
        yield from self.reference_tables()
        yield self.customers()
        yield self.inventory()
        for orders, items in self.order_chunks():
            yield orders
            yield items

    # Reference data -----------------------------------------------------------------
    def reference_tables(self) -> list[TableRows]:
        """Stores, managers, the store managers' stores, and the catalog."""
        stores = [(s.store_id, s.name, s.location, s.region, s.is_online) for s in self.stores]
        managers = [(m.manager_id, m.name, m.email, m.scope, m.region)
                    for m in company.managers()]
        runs = [(m.manager_id, company.store_named(m.store).store_id)
                for m in company.managers() if m.store]
        categories = [(c.category_id, c.name) for c in self.categories]
        products = [(p.product_id, p.sku, p.name, catalog.category_id(p.category),
                     catalog.product_type_id(p.category, p.product_type), p.cost, p.base_price,
                     p.gross_margin_percent, p.description) for p in self.products]
        return [
            TableRows("stores", ("store_id", "name", "location", "region", "is_online"), stores),
            TableRows("managers", ("manager_id", "name", "email", "scope", "region"), managers),
            TableRows("manager_stores", ("manager_id", "store_id"), runs),
            TableRows("categories", ("category_id", "name"), categories),
            TableRows("product_types", ("product_type_id", "category_id", "name"),
                      catalog.product_types()),
            TableRows("products", ("product_id", "sku", "name", "category_id",
                                   "product_type_id", "cost", "base_price",
                                   "gross_margin_percent", "description"), products),
        ]

    # Customers ----------------------------------------------------------------------
    def customers(self) -> TableRows:
        """Customers with a home store and the day they joined (before any order)."""
        rng, n = self._rng_customers, self.size.customers
        fake = Faker("en_US")
        fake.seed_instance(self.seed)
        firsts = [fake.first_name() for _ in range(600)]
        lasts = [fake.last_name() for _ in range(1200)]
        store = rng.choice(len(self.stores), size=n, p=self._store_p)
        # A fifth of each store's customers were already customers on day one.
        join = np.where(rng.random(n) < 0.2, 0, rng.integers(0, self._days, n))
        first_i, last_i = rng.integers(0, len(firsts), n), rng.integers(0, len(lasts), n)
        seconds = rng.integers(8 * 3600, 20 * 3600, n)
        ids = _uuids(self._rng_ids, n)
        self._customer_store, self._customer_join, self._customer_ids = store, join, ids
        self._pools = None
        rows = []
        for i in range(n):
            first, last = firsts[first_i[i]], lasts[last_i[i]]
            email = "".join(ch for ch in f"{first}.{last}" if ch.isalnum() or ch == ".")
            created = dt.datetime.combine(self._dates[join[i]], dt.time(), dt.UTC) + \
                dt.timedelta(seconds=int(seconds[i]))
            rows.append((ids[i], self.stores[store[i]].store_id, first, last,
                         f"{email.lower()}.{i}@example.com", created))
        return TableRows("customers", ("customer_id", "store_id", "first_name", "last_name",
                                       "email", "created_at"), rows)

    # Inventory ----------------------------------------------------------------------
    def inventory(self) -> TableRows:
        """Stock for every store and product; about 6% runs low (< 10 units)."""
        rng = self._rng_inventory
        rows = []
        for s, store in enumerate(self.stores):
            scale = 40 + 400 * self._store_p[s]
            stock = np.rint(rng.lognormal(np.log(scale), 0.5, len(self.products))).astype(int)
            low = rng.random(len(self.products)) < LOW_STOCK_SHARE
            low[rng.choice(len(self.products), 3, replace=False)] = True  # every store some
            stock = np.where(low, rng.integers(0, 10, len(self.products)), np.maximum(stock, 10))
            rows += [(store.store_id, p.product_id, int(stock[i]))
                     for i, p in enumerate(self.products)]
        return TableRows("inventory", ("store_id", "product_id", "stock_level"), rows)

    # Orders -------------------------------------------------------------------------
    def _day_weights(self) -> np.ndarray:
        months = np.array([d.month - 1 for d in self._dates])
        seasonal = np.array([c.monthly_weights for c in self.categories]).mean(axis=0)
        years = np.arange(self._days) / 365.25
        weekend = np.array([1.3 if d.weekday() >= 5 else 1.0 for d in self._dates])
        weights = seasonal[months] * YEARLY_GROWTH ** years * weekend
        normalised: np.ndarray = weights / weights.sum()
        return normalised

    def order_chunks(self) -> Iterator[tuple[TableRows, TableRows]]:
        """(orders, order_items) chunk by chunk; ``customers()`` must have run first."""
        if self._customer_store is None or self._customer_join is None:
            raise RuntimeError("generate customers before orders")
        day_p = self._day_weights()
        remaining, chunk = self.size.orders, self.size.chunk_orders
        while remaining > 0:
            count = min(chunk, remaining)
            remaining -= count
            yield self._orders(count, day_p)

    def _pick_customers(self, store: np.ndarray, day: np.ndarray) -> np.ndarray:
        rng = self._rng_orders
        assert self._customer_store is not None and self._customer_join is not None
        chosen = np.empty(len(store), dtype=np.int64)
        online = np.array([s.is_online for s in self.stores])[store]
        elsewhere = rng.random(len(store)) < np.where(online, ONLINE_AWAY_SHARE, AWAY_SHARE)
        for key, (pool, joined) in self._customer_pools().items():
            rows = np.flatnonzero(~elsewhere & (store == key)) if key >= 0 else \
                np.flatnonzero(elsewhere)
            if not len(rows):
                continue
            # Only customers who had joined by the order's day can place it.
            k = np.maximum(np.searchsorted(joined, day[rows], side="right"), 1)
            chosen[rows] = pool[(rng.random(len(rows)) * k).astype(np.int64)]
        return chosen

    def _customer_pools(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per home store (and -1: everyone), customer indexes sorted by join day."""
        if self._pools is None:
            assert self._customer_store is not None and self._customer_join is not None
            pools = {s: np.flatnonzero(self._customer_store == s)
                     for s in range(len(self.stores))}
            pools[-1] = np.arange(len(self._customer_store))
            self._pools = {}
            for key, pool in pools.items():
                ordered = pool[np.argsort(self._customer_join[pool], kind="stable")]
                self._pools[key] = (ordered, self._customer_join[ordered])
        return self._pools

    def _orders(self, count: int, day_p: np.ndarray) -> tuple[TableRows, TableRows]:
        rng = self._rng_orders
        day = np.sort(rng.choice(self._days, size=count, p=day_p))
        store = rng.choice(len(self.stores), size=count, p=self._store_p)
        customer = self._pick_customers(store, day)
        month = np.array([self._dates[d].month - 1 for d in day])
        product_idx, order_idx = self._items(count, month)
        quantity = rng.choice(QUANTITIES, size=len(product_idx), p=QUANTITIES_P)
        price = np.array([_cents(p.base_price) for p in self.products])[product_idx]
        quantity = np.where(price > 20_000, 1, quantity)
        percent = np.where(rng.random(len(product_idx)) < DISCOUNT_SHARE,
                           rng.choice(DISCOUNTS, size=len(product_idx)), 0)
        gross = quantity * price
        discount = (gross * percent + 50) // 100
        total = gross - discount
        order_total = np.zeros(count, dtype=np.int64)
        np.add.at(order_total, order_idx, total)
        status = self._statuses(day)
        ids = _uuids(self._rng_ids, count)
        store_ids = [s.store_id for s in self.stores]
        customer_ids, dates = self._customer_ids, self._dates
        orders = [(store_ids[s], order_id, customer_ids[c], dates[d], t, state)
                  for s, order_id, c, d, t, state in zip(
                      store.tolist(), ids, customer.tolist(), day.tolist(),
                      _money(order_total), status, strict=True)]
        store_of_order = [store_ids[s] for s in store.tolist()]
        product_ids = [p.product_id for p in self.products]
        unit_prices = [p.base_price for p in self.products]
        percents = {int(pc): Decimal(int(pc)) for pc in (0, *DISCOUNTS)}
        items = [
            (store_of_order[o], ids[o], product_ids[p], q, unit_prices[p], percents[pc], d, t)
            for o, p, q, pc, d, t in zip(
                order_idx.tolist(), product_idx.tolist(), quantity.tolist(), percent.tolist(),
                _money(discount), _money(total), strict=True)
        ]
        return (
            TableRows("orders", ("store_id", "order_id", "customer_id", "order_date",
                                 "total_amount", "status"), orders),
            TableRows("order_items", ("store_id", "order_id", "product_id", "quantity",
                                      "unit_price", "discount_percent", "discount_amount",
                                      "total_amount"), items),
        )

    def _items(self, count: int, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct products per order, mostly from one seasonal category."""
        rng = self._rng_orders
        names = [c.name for c in self.categories]
        by_category = [np.array([i for i, p in enumerate(self.products) if p.category == n])
                       for n in names]
        season = np.array([c.monthly_weights for c in self.categories]).T  # [12, C]
        share = np.array([len(ix) for ix in by_category], dtype=float)
        cumulative = np.cumsum(season * share, axis=1)
        cumulative /= cumulative[:, -1:]
        primary = (rng.random(count)[:, None] > cumulative[month]).sum(axis=1)
        per_order = rng.choice(ITEMS_PER_ORDER, size=count, p=ITEMS_P)
        order_idx = np.repeat(np.arange(count), per_order)
        category = np.where(rng.random(len(order_idx)) < 0.8, primary[order_idx],
                            rng.choice(len(names), size=len(order_idx), p=share / share.sum()))
        product = np.empty(len(order_idx), dtype=np.int64)
        for c, members in enumerate(by_category):
            rows = np.flatnonzero(category == c)
            popularity = 1.0 / np.arange(1, len(members) + 1) ** 0.8
            popularity = popularity[np.random.default_rng(c).permutation(len(members))]
            product[rows] = rng.choice(members, size=len(rows), p=popularity / popularity.sum())
        pairs = np.unique(order_idx * len(self.products) + product)
        return pairs % len(self.products), pairs // len(self.products)

    def _statuses(self, day: np.ndarray) -> list[str]:
        rng = self._rng_orders
        last = self._days - 1
        draw = rng.random(len(day))
        status = np.where(draw < 0.04, "returned", np.where(draw < 0.07, "cancelled",
                                                            "delivered"))
        status = np.where(day >= last - 7, "shipped", status)
        status = np.where(day >= last - 2, "placed", status)
        return [str(s) for s in status]
