"""The database roles the migrations create and the server acts as: one name each.

The migrations keep their own literals (a migration must replay the same way forever);
``tests/unit/migrations`` checks that they match these.
"""

from __future__ import annotations

READER_ROLE = "zava_reader"
"""May read every retail table, subject to row-level security."""

SINGLE_STORE_READER_ROLE = "zava_store_reader"
"""The reader for callers who see exactly one store (policies the planner can estimate)."""

ALL_STORES_READER_ROLE = "zava_all_reader"
"""The reader for callers who see every store (head office): its policies admit every row
when, and only when, the caller sees every store, decided once per query."""

OWNER_ROLE = "zava_owner"
"""Owns the ``retail`` schema; nobody logs in as it."""

READER_ROLES = (READER_ROLE, SINGLE_STORE_READER_ROLE, ALL_STORES_READER_ROLE)
"""Every role a server's login must be able to ``SET ROLE`` to."""
