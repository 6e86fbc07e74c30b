"""Declarative models of the ``retail`` schema.

The Alembic migrations own the database; these models mirror them exactly (a test runs
Alembic's autogenerate comparison against a migrated database and fails on any drift).
Tenant tables (inventory, orders, order_items) have primary keys that begin with
``store_id`` and foreign keys among them that include it, so each store's rows can live
together on one shard.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zava.db.search_document import SEARCH_DOCUMENT

SCHEMA = "retail"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)


class Base(DeclarativeBase):
    """Base of every model: one MetaData, schema ``retail``, a stable naming convention."""

    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


class Store(Base):
    """A physical store or the online shop."""

    __tablename__ = "stores"

    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    location: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text, index=True)
    is_online: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Manager(Base):
    """A caller identity: a store manager, a regional manager or head office."""

    __tablename__ = "managers"
    __table_args__ = (
        CheckConstraint(
            "scope IN ('store', 'region', 'head_office')", name="scope_known"
        ),
        CheckConstraint(
            "(scope = 'region') = (region IS NOT NULL)", name="region_iff_regional"
        ),
    )

    manager_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text, unique=True)
    scope: Mapped[str] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(Text)


class ManagerStore(Base):
    """The stores a store-scoped manager runs."""

    __tablename__ = "manager_stores"

    manager_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("managers.manager_id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stores.store_id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ManagerLogin(Base):
    """A database login bound to one manager (``zava db grant-login --manager``): a session
    of that login acts as that manager whatever ``app.current_rls_user_id`` says."""

    __tablename__ = "manager_logins"
    __table_args__ = (
        {"comment": "Database logins bound to one manager: such a session acts as that "
                    "manager only"},
    )

    login: Mapped[str] = mapped_column(Text, primary_key=True)
    manager_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("managers.manager_id", ondelete="CASCADE"), index=True
    )


class ManagerIdentity(Base):
    """A person signed in at an OAuth/OpenID issuer (``subject``: the claim the server
    maps, ``sub`` by default) and the manager they act as (``zava identity add``). The
    server reads it only through ``retail.manager_for_identity(issuer, subject)``."""

    __tablename__ = "manager_identities"
    __table_args__ = (
        CheckConstraint("length(trim(issuer)) > 0", name="issuer_not_blank"),
        CheckConstraint("length(trim(subject)) > 0", name="subject_not_blank"),
        {"comment": "People signed in at an OAuth/OpenID issuer, by the token claim the "
                    "server maps (sub by default), and the manager each acts as"},
    )

    issuer: Mapped[str] = mapped_column(Text, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    manager_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("managers.manager_id", ondelete="CASCADE"), index=True
    )

class Customer(Base):
    """A customer with a home store."""

    __tablename__ = "customers"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.store_id"), index=True)
    first_name: Mapped[str] = mapped_column(Text)
    last_name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Category(Base):
    """A top-level product category (Power Tools, Garden & Outdoor, ...)."""

    __tablename__ = "categories"

    category_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)


class ProductType(Base):
    """A product type within a category (Drills, Saws, ...)."""

    __tablename__ = "product_types"

    product_type_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("categories.category_id"))
    name: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("uq_product_types_category_id_name", "category_id", "name", unique=True),
    )


class Product(Base):
    """A catalog item, sold in every store."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("cost >= 0 AND base_price >= 0", name="prices_not_negative"),
        Index("ix_products_search_document", "search_document", postgresql_using="gin"),
        Index("ix_products_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sku: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("categories.category_id"), index=True
    )
    product_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_types.product_type_id"), index=True
    )
    cost: Mapped[Decimal] = mapped_column(Money)
    base_price: Mapped[Decimal] = mapped_column(Money)
    gross_margin_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    description: Mapped[str] = mapped_column(Text)
    search_document: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), deferred=True,
        comment="Weighted full-text document (name A, description B) for product search")
    """The weighted name + description document full-text search matches and ranks
    (written by PostgreSQL; deferred: nothing but the search statement reads it)."""


class Inventory(Base):
    """Stock of one product in one store (a tenant table)."""

    __tablename__ = "inventory"
    __table_args__ = (CheckConstraint("stock_level >= 0", name="stock_not_negative"),)

    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.store_id"), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.product_id"), primary_key=True, index=True
    )
    stock_level: Mapped[int] = mapped_column(Integer)


class Order(Base):
    """A customer's order at one store (a tenant table)."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('placed', 'shipped', 'delivered', 'returned', 'cancelled')",
            name="status_known",
        ),
        Index("ix_orders_store_id_order_date", "store_id", "order_date"),
        Index("ix_orders_customer_id", "customer_id"),
    )

    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.store_id"), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.customer_id"))
    order_date: Mapped[dt.date] = mapped_column(Date)
    total_amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(Text, server_default=text("'delivered'"))


class OrderItem(Base):
    """One product line of an order (a tenant table)."""

    __tablename__ = "order_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["store_id", "order_id"],
            ["orders.store_id", "orders.order_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "discount_percent >= 0 AND discount_percent <= 100", name="discount_in_range"
        ),
        Index("ix_order_items_store_id_product_id", "store_id", "product_id"),
    )

    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.store_id"), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.product_id"), primary_key=True
    )
    quantity: Mapped[int] = mapped_column(SmallInteger)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default=text("0"))
    discount_amount: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))
    total_amount: Mapped[Decimal] = mapped_column(Money)


class EmbeddingSpace(Base):
    """The one embedding model and dimension the stored vectors were made with."""

    __tablename__ = "embedding_space"
    __table_args__ = (CheckConstraint("singleton", name="one_row"),)

    singleton: Mapped[bool] = mapped_column(
        Boolean, primary_key=True, server_default=text("true")
    )
    model_name: Mapped[str] = mapped_column(Text)
    dimension: Mapped[int] = mapped_column(Integer)


VECTOR_INDEX = "ix_product_description_embeddings_embedding"
"""The ivfflat index over the description vectors (rebuilt by the seed and re-embedding)."""


class ProductDescriptionEmbedding(Base):
    """A product description's embedding vector (reference data, readable by all)."""

    __tablename__ = "product_description_embeddings"
    __table_args__ = (
        Index(
            VECTOR_INDEX,
            "embedding",
            postgresql_using="ivfflat",
            postgresql_with={"lists": 1},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.product_id", ondelete="CASCADE"), primary_key=True
    )
    # The dimension is a deployment choice recorded in embedding_space, so the model
    # leaves it open; the migration creates vector(<configured dimension>).
    embedding: Mapped[list[float]] = mapped_column(Vector())
    model: Mapped[str] = mapped_column(Text)
    last_updated: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

