"""The products' full-text document as a stored column, indexed and ranked without
re-parsing the text.

Hybrid search ranks its full-text hits with ``ts_rank_cd`` over the weighted name +
description document. With only an expression index (0004) the index finds the rows,
but the rank (and the index's recheck) parse every matching product's name and
description again on each question: 2.5 of the fused search's 5.1 ms on the workshop
seed (58 hits of 428 products). A generated column is parsed once, when a product is
written; the GIN index moves to it. Same expression (a literal copy of
``zava.db.search_document.SEARCH_DOCUMENT``, held equal by a unit test), so the ranks
and the answers are the same.

The column is ``GENERATED ALWAYS ... STORED``: nothing writes it, COPY without a column
list skips it, and the readers' table-level SELECT grant covers it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, name), 'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, description), 'B'::\"char\")"
)


def upgrade() -> None:
    op.execute(
        "ALTER TABLE retail.products ADD COLUMN search_document tsvector "
        f"GENERATED ALWAYS AS ({SEARCH_DOCUMENT}) STORED"
    )
    op.execute("DROP INDEX retail.ix_products_search_document")
    op.execute(
        "CREATE INDEX ix_products_search_document ON retail.products "
        "USING gin (search_document)"
    )
    op.execute("""
    COMMENT ON COLUMN retail.products.search_document IS
        'Weighted full-text document (name A, description B) for product search'
    """)


def downgrade() -> None:
    op.execute("DROP INDEX retail.ix_products_search_document")
    op.execute("ALTER TABLE retail.products DROP COLUMN search_document")
    op.execute(
        "CREATE INDEX ix_products_search_document ON retail.products "
        f"USING gin (({SEARCH_DOCUMENT}))"
    )
