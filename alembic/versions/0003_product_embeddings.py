"""pgvector: product description embeddings, the recorded embedding space, ivfflat index.

The dimension comes from ``-x embedding_dim=N`` (default: the settings, 384) and the
model name from ``-x embedding_model=NAME``; both are recorded in
``retail.embedding_space`` so a server whose embedder differs refuses semantic search
with a clear message. The ivfflat index is created here on the empty table and rebuilt
by ``zava seed`` after loading, with ``lists`` sized to the row count.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

from zava.provision.migration_context import embedding_dim, embedding_model

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "retail"


def upgrade() -> None:
    dim = embedding_dim()
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")

    op.create_table(
        "embedding_space",
        sa.Column("singleton", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.CheckConstraint("singleton", name=op.f("ck_embedding_space_one_row")),
        sa.PrimaryKeyConstraint("singleton", name="pk_embedding_space"),
        schema=S,
    )
    model = embedding_model().replace("'", "''")
    op.execute(
        f"INSERT INTO {S}.embedding_space (model_name, dimension) VALUES ('{model}', {dim})"
    )

    op.create_table(
        "product_description_embeddings",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("embedding", Vector(dim), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column(
            "last_updated", sa.DateTime(timezone=True), server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], [f"{S}.products.product_id"],
            name="fk_product_description_embeddings_product_id_products", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name="pk_product_description_embeddings"),
        schema=S,
    )
    op.execute(
        "CREATE INDEX ix_product_description_embeddings_embedding "
        f"ON {S}.product_description_embeddings "
        "USING ivfflat (embedding vector_cosine_ops) WITH (lists = 1)"
    )
    for table in ("embedding_space", "product_description_embeddings"):
        op.execute(f"ALTER TABLE {S}.{table} OWNER TO zava_owner")
        op.execute(f"GRANT SELECT ON {S}.{table} TO zava_reader, zava_store_reader")


def downgrade() -> None:
    op.drop_table("product_description_embeddings", schema=S)
    op.drop_table("embedding_space", schema=S)
    # Another schema may use pgvector too: then the extension stays.
    op.execute("""
    DO $$
    BEGIN
        DROP EXTENSION IF EXISTS vector;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE NOTICE 'extension vector is still used elsewhere; kept';
    END
    $$""")
