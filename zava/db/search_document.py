"""The full-text document of a product, written once for the index and the queries.

PostgreSQL uses an expression index only for a query that repeats the expression
exactly, so the migration that creates the GIN index and the repository that searches
it both take it from here. The name weighs more (A) than the description (B).
"""

from __future__ import annotations

TEXT_SEARCH_CONFIG = "english"

SEARCH_DOCUMENT = (
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, name), 'A'::\"char\") || "
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, description), 'B'::\"char\")"
)
