"""The full-text document of a product: the expression of the stored column
``retail.products.search_document`` (migration 0009 keeps a literal copy; 0004 indexed
the expression itself). The name weighs more (A) than the description (B).
"""

from __future__ import annotations

TEXT_SEARCH_CONFIG = "english"

SEARCH_DOCUMENT = (
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, name), 'A'::\"char\") || "
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, description), 'B'::\"char\")"
)
