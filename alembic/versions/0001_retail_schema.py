"""The retail schema: stores, managers, customers, catalog and the tenant tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "retail"
MONEY = sa.Numeric(12, 2)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")

    op.create_table(
        "stores",
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("is_online", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("store_id", name="pk_stores"),
        sa.UniqueConstraint("name", name="uq_stores_name"),
        schema=S,
    )
    op.create_index("ix_stores_region", "stores", ["region"], schema=S)

    op.create_table(
        "managers",
        sa.Column("manager_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "scope IN ('store', 'region', 'head_office')", name=op.f("ck_managers_scope_known")
        ),
        sa.CheckConstraint(
            "(scope = 'region') = (region IS NOT NULL)", name=op.f("ck_managers_region_iff_regional")
        ),
        sa.PrimaryKeyConstraint("manager_id", name="pk_managers"),
        sa.UniqueConstraint("email", name="uq_managers_email"),
        schema=S,
    )

    op.create_table(
        "manager_stores",
        sa.Column("manager_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"], [f"{S}.managers.manager_id"],
            name="fk_manager_stores_manager_id_managers", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], [f"{S}.stores.store_id"],
            name="fk_manager_stores_store_id_stores", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("manager_id", "store_id", name="pk_manager_stores"),
        schema=S,
    )
    op.create_index("ix_manager_stores_store_id", "manager_stores", ["store_id"], schema=S)

    op.create_table(
        "customers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], [f"{S}.stores.store_id"], name="fk_customers_store_id_stores"
        ),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customers"),
        sa.UniqueConstraint("email", name="uq_customers_email"),
        schema=S,
    )
    op.create_index("ix_customers_store_id", "customers", ["store_id"], schema=S)

    op.create_table(
        "categories",
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("category_id", name="pk_categories"),
        sa.UniqueConstraint("name", name="uq_categories_name"),
        schema=S,
    )

    op.create_table(
        "product_types",
        sa.Column("product_type_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], [f"{S}.categories.category_id"],
            name="fk_product_types_category_id_categories",
        ),
        sa.PrimaryKeyConstraint("product_type_id", name="pk_product_types"),
        schema=S,
    )
    op.create_index(
        "uq_product_types_category_id_name", "product_types", ["category_id", "name"],
        unique=True, schema=S,
    )

    op.create_table(
        "products",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("product_type_id", sa.Uuid(), nullable=False),
        sa.Column("cost", MONEY, nullable=False),
        sa.Column("base_price", MONEY, nullable=False),
        sa.Column("gross_margin_percent", sa.Numeric(5, 2), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "cost >= 0 AND base_price >= 0", name=op.f("ck_products_prices_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], [f"{S}.categories.category_id"],
            name="fk_products_category_id_categories",
        ),
        sa.ForeignKeyConstraint(
            ["product_type_id"], [f"{S}.product_types.product_type_id"],
            name="fk_products_product_type_id_product_types",
        ),
        sa.PrimaryKeyConstraint("product_id", name="pk_products"),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
        schema=S,
    )
    op.create_index("ix_products_category_id", "products", ["category_id"], schema=S)
    op.create_index("ix_products_product_type_id", "products", ["product_type_id"], schema=S)

    op.create_table(
        "inventory",
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("stock_level", sa.Integer(), nullable=False),
        sa.CheckConstraint("stock_level >= 0", name=op.f("ck_inventory_stock_not_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"], [f"{S}.products.product_id"], name="fk_inventory_product_id_products"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], [f"{S}.stores.store_id"], name="fk_inventory_store_id_stores"
        ),
        sa.PrimaryKeyConstraint("store_id", "product_id", name="pk_inventory"),
        schema=S,
    )
    op.create_index("ix_inventory_product_id", "inventory", ["product_id"], schema=S)

    op.create_table(
        "orders",
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("total_amount", MONEY, nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'delivered'"), nullable=False),
        sa.CheckConstraint(
            "status IN ('placed', 'shipped', 'delivered', 'returned', 'cancelled')",
            name=op.f("ck_orders_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], [f"{S}.customers.customer_id"],
            name="fk_orders_customer_id_customers",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], [f"{S}.stores.store_id"], name="fk_orders_store_id_stores"
        ),
        sa.PrimaryKeyConstraint("store_id", "order_id", name="pk_orders"),
        schema=S,
    )
    op.create_index("ix_orders_store_id_order_date", "orders", ["store_id", "order_date"], schema=S)
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"], schema=S)

    op.create_table(
        "order_items",
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.SmallInteger(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("discount_percent", sa.Numeric(5, 2), server_default=sa.text("0"), nullable=False),
        sa.Column("discount_amount", MONEY, server_default=sa.text("0"), nullable=False),
        sa.Column("total_amount", MONEY, nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_items_quantity_positive")),
        sa.CheckConstraint(
            "discount_percent >= 0 AND discount_percent <= 100",
            name=op.f("ck_order_items_discount_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id", "order_id"], [f"{S}.orders.store_id", f"{S}.orders.order_id"],
            name="fk_order_items_store_id_order_id_orders", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], [f"{S}.products.product_id"],
            name="fk_order_items_product_id_products",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], [f"{S}.stores.store_id"], name="fk_order_items_store_id_stores"
        ),
        sa.PrimaryKeyConstraint("store_id", "order_id", "product_id", name="pk_order_items"),
        schema=S,
    )
    op.create_index(
        "ix_order_items_store_id_product_id", "order_items", ["store_id", "product_id"], schema=S
    )


def downgrade() -> None:
    for table in (
        "order_items", "orders", "inventory", "products", "product_types", "categories",
        "customers", "manager_stores", "managers", "stores",
    ):
        op.drop_table(table, schema=S)
    op.execute(f"DROP SCHEMA IF EXISTS {S}")
